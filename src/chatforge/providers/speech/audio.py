"""Audio in and out: decoding what clients send (with PyAV, FFmpeg's libraries) and WAV/PCM.

Decoding accepts the containers browsers and phones record (WAV, WebM/Opus, OGG, MP3, M4A) and
refuses the rest by what the bytes are, never by a file name. Audio is decoded to 16 kHz mono
float32, and decoding stops as soon as it passes the duration limit, so a long file costs no more
than the limit.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np

from chatforge.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from chatforge.providers.speech.base import RECOGNITION_RATE, Audio, Samples

__all__ = [
    "ACCEPTED_FORMATS",
    "AudioTooLong",
    "decode",
    "pcm16",
    "wav_bytes",
    "wav_header",
]

ACCEPTED_FORMATS = "WAV, WebM/Opus, OGG, MP3 and M4A"

#: FFmpeg's demuxer names of the accepted containers (its probe reads them from the bytes).
_CONTAINERS = frozenset({"wav", "matroska,webm", "ogg", "mp3", "mov,mp4,m4a,3gp,3g2,mj2"})

#: The size fields of a WAV header written before the length is known (as streaming servers do).
_UNKNOWN_SIZE = 0xFFFFFFFF


class AudioTooLong(PayloadTooLarge):
    """The audio lasts longer than the configured limit."""

    code = "audio_too_long"


def decode(data: bytes, *, max_seconds: float) -> Audio:
    """Decode a recording to 16 kHz mono float32.

    Args:
        data: The file's bytes.
        max_seconds: The longest audio accepted.

    Raises:
        UnsupportedMediaType: Not audio in one of the accepted formats (415).
        BadRequest: The bytes are damaged or hold no audio (400).
        AudioTooLong: Longer than ``max_seconds`` (413).
    """
    import av  # the optional voice install

    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise UnsupportedMediaType(
            f"This is not audio that can be decoded: send {ACCEPTED_FORMATS}."
        ) from exc
    with container:
        if container.format.name not in _CONTAINERS:
            raise UnsupportedMediaType(
                f"Audio in the {container.format.long_name} format is not accepted: send "
                f"{ACCEPTED_FORMATS}."
            )
        if not container.streams.audio:
            raise BadRequest("The file holds no audio track.")
        limit = int(max_seconds * RECOGNITION_RATE)
        try:
            parts = _decode_stream(container, limit)
        except av.FFmpegError as exc:
            raise BadRequest(f"The audio is damaged and could not be decoded ({exc}).") from exc
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    if len(samples) > limit:
        raise AudioTooLong(f"The audio is longer than {max_seconds:g} seconds; send less.")
    if len(samples) == 0:
        raise BadRequest("The audio is empty: it decodes to no sound at all.")
    return Audio(samples.astype(np.float32, copy=False), RECOGNITION_RATE)


def _decode_stream(container: Any, limit: int) -> list[Samples]:
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=RECOGNITION_RATE)
    parts: list[Samples] = []
    total = 0
    for frame in container.decode(audio=0):
        for out in resampler.resample(frame):
            part = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            parts.append(part)
            total += len(part)
        if total > limit:
            return parts  # enough to say it is too long; decode no further
    for out in resampler.resample(None):
        parts.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    return parts


def pcm16(samples: Samples) -> bytes:
    """Float samples as 16-bit little-endian PCM."""
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def wav_header(sample_rate: int, data_bytes: int | None = None) -> bytes:
    """The 44-byte header of a 16-bit mono WAV file.

    Args:
        sample_rate: Samples per second.
        data_bytes: Length of the PCM that follows; None when it is streamed and not yet known
            (the sizes are then the largest value, which players read as "until the end").
    """
    data_size = _UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff_size = _UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff_size,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data_size,
    )


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A whole WAV file of 16-bit mono PCM."""
    return wav_header(sample_rate, len(pcm)) + pcm
