"""Terms: the index terms keyword search stores and the content terms the answerer weighs."""

from __future__ import annotations

from chatforge.text.analysis import analyze, content_terms, stem


def test_stems_meet_across_inflections() -> None:
    assert stem("located") == stem("locates") == stem("location") == stem("locate")
    assert stem("running") == stem("runs") == "run"
    assert stem("universities") == stem("university")
    assert content_terms("What is the name of the tallest mountains?") == ["tallest", "mountain"]
    # Snowball, not a hand-written suffix list: derivations meet too.
    assert stem("assembled") == stem("assembly")
    # Irregular forms meet their base; a possessive its owner.
    assert stem("paid") == stem("pay") and stem("ridden") == stem("rides")
    assert content_terms("Tolkien's books") == ["tolkien", "book"]


def test_index_terms_fold_accents_and_drop_stop_words_but_keep_question_verbs() -> None:
    # The keyword index keeps "tell": its terms are stored and must not change with the reader's.
    assert analyze("Tell me about the Café's opening hours") == ["tell", "cafe", "open", "hour"]
    assert content_terms("Tell me about the Café's opening hours") == ["cafe", "open", "hour"]


def test_a_number_word_meets_its_digits() -> None:
    # "blinks three times" asks about the row "Door reader blinks red 3 times".
    assert content_terms("it blinks three times") == content_terms("it blinks 3 times")
    assert content_terms("twelve people") == ["12", "peopl"]
    # The keyword index stores the words as written.
    assert analyze("three times") == ["three", "time"]
