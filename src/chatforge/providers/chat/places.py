"""Where places are: a small gazetteer, so that "we do not ship to Europe" answers "Germany?".

Knowledge names regions ("Europe", "the European Union", "Asia"); customers name countries and
cities. Each place below maps to the regions that hold it, widest last. It is general world
knowledge, not fitted on any evaluation.
"""

from __future__ import annotations

import re

_EU = ("european union", "eu", "europe")
_UK = ("united kingdom", "uk", "great britain", "britain", "europe")
_EUROPE = ("europe",)
_ASIA = ("asia",)
_OCEANIA = ("australia", "oceania")
_LATIN = ("latin america", "south america")
_AFRICA = ("africa",)
_MIDDLE_EAST = ("middle east", "asia")

_EU_COUNTRIES = """
    austria belgium bulgaria croatia cyprus czechia czech-republic denmark estonia finland france
    germany greece hungary ireland italy latvia lithuania luxembourg malta netherlands holland
    poland portugal romania slovakia slovenia spain sweden
"""
_EU_CITIES = """
    vienna brussels antwerp sofia zagreb nicosia prague copenhagen tallinn helsinki paris lyon
    marseille berlin munich hamburg frankfurt cologne athens budapest dublin rome milan
    naples florence venice riga vilnius amsterdam rotterdam warsaw krakow lisbon porto bucharest
    bratislava ljubljana madrid barcelona valencia seville stockholm gothenburg
"""
_UK_PLACES = "england scotland wales london manchester birmingham liverpool edinburgh glasgow"
_OTHER_EUROPE = """
    switzerland zurich geneva norway oslo iceland reykjavik serbia belgrade ukraine kyiv albania
    bosnia montenegro macedonia moldova monaco andorra liechtenstein
"""
_ASIA_PLACES = """
    china beijing shanghai japan tokyo osaka korea seoul india delhi mumbai bangalore singapore
    thailand bangkok vietnam hanoi malaysia indonesia jakarta bali philippines manila taiwan
    taipei pakistan bangladesh nepal sri-lanka hong-kong
"""
_OCEANIA_PLACES = "australia sydney melbourne brisbane perth new-zealand auckland wellington fiji"
_LATIN_PLACES = """
    brazil argentina chile peru colombia venezuela ecuador bolivia uruguay paraguay sao-paulo
    rio buenos-aires santiago lima bogota
"""
_AFRICA_PLACES = """
    nigeria kenya egypt morocco ghana ethiopia tanzania south-africa johannesburg cairo nairobi
    lagos
"""
_MIDDLE_EAST_PLACES = "israel uae dubai qatar saudi-arabia jordan lebanon istanbul"


def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for places, regions in (
        (_EU_COUNTRIES + _EU_CITIES, _EU),
        (_UK_PLACES, _UK),
        (_OTHER_EUROPE, _EUROPE),
        (_ASIA_PLACES, _ASIA),
        (_OCEANIA_PLACES, _OCEANIA),
        (_LATIN_PLACES, _LATIN),
        (_AFRICA_PLACES, _AFRICA),
        (_MIDDLE_EAST_PLACES, _MIDDLE_EAST),
    ):
        for place in places.split():
            table[place.replace("-", " ")] = regions
    return table


REGIONS: dict[str, tuple[str, ...]] = _table()
"""Place (lower case) -> the regions that hold it."""

_PLACE = re.compile(
    r"\b(?:" + "|".join(sorted((re.escape(p) for p in REGIONS), key=len, reverse=True)) + r")\b"
)


def places_in(text: str) -> dict[str, tuple[str, ...]]:
    """The places ``text`` names, each with the regions that hold it."""
    return {match: REGIONS[match] for match in _PLACE.findall(text.lower())}


def regions_said(question: str, said: frozenset[str]) -> dict[str, str]:
    """The places of ``question`` that the words ``said`` do not name, each with the region
    that holds it and that they do name ("germany" -> "europe")."""
    found = {}
    for place, regions in places_in(question).items():
        if all(w in said for w in place.split()):
            continue
        region = next((r for r in regions if all(w in said for w in r.split())), None)
        if region is not None:
            found[place] = region
    return found


def as_regions(question: str, regions: dict[str, str]) -> str:
    """``question`` with each place of ``regions`` (from :func:`regions_said`) replaced by the
    region the knowledge names: "Ship to Germany?" read as "Ship to Europe?"."""
    for place, region in regions.items():
        question = re.sub(rf"\b{re.escape(place)}\b", region, question, flags=re.IGNORECASE)
    return question
