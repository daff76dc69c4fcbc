"""Checking uploaded images by decoding them, never by trusting names or headers."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from chatforge.errors import UnsupportedMediaType

ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
MAX_PIXELS = 40_000_000


def check_image(path: Path) -> str:
    """Decode the image at ``path`` and return its extension.

    Raises:
        UnsupportedMediaType: not a PNG, JPEG, WebP or GIF that decodes.
    """
    accepted = ", ".join(sorted(ACCEPTED_FORMATS))
    try:
        with warnings.catch_warnings():
            # A decompression bomb is an error here, not a warning.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image_format = image.format or ""
                if image_format not in ACCEPTED_FORMATS:
                    raise UnsupportedMediaType(
                        f"The avatar must be an image ({accepted}); "
                        f"got {image_format or 'unknown'}."
                    )
                if image.width * image.height > MAX_PIXELS:
                    raise UnsupportedMediaType("The avatar image has too many pixels.")
                image.load()
    except UnsupportedMediaType:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise UnsupportedMediaType(
            f"The avatar is not a readable image; accepted types: {accepted}."
        ) from exc
    return ACCEPTED_FORMATS[image_format]
