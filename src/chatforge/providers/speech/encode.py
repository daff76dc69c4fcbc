"""Speech out in the format a client asks for: WAV, raw PCM, MP3 or Opus (in Ogg), streamed.

Synthesis yields 16-bit mono PCM; :func:`encode_stream` turns that stream into the asked format
piece by piece, so the first bytes leave as soon as the first sentence is spoken. MP3 and Opus are
encoded with FFmpeg's encoders through PyAV.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any, Literal, cast

import anyio.to_thread
import numpy as np

from chatforge.providers.speech.audio import wav_header

__all__ = ["MEDIA_TYPES", "AudioFormat", "StreamEncoder", "encode_stream", "media_type"]

AudioFormat = Literal["wav", "pcm", "mp3", "opus"]

MEDIA_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
}

#: (container, encoder, sample rate or None for the input's) of the compressed formats.
_CODECS: dict[str, tuple[str, str, int | None]] = {
    "mp3": ("mp3", "libmp3lame", None),
    "opus": ("ogg", "libopus", 48_000),  # Opus runs at 48 kHz
}


def media_type(audio_format: AudioFormat, sample_rate: int) -> str:
    """The Content-Type of speech in ``audio_format``."""
    if audio_format == "pcm":
        return f"audio/L16;rate={sample_rate};channels=1"
    return MEDIA_TYPES[audio_format]


class _Sink(io.RawIOBase):
    """Where the muxer writes: collects the bytes until they are taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class StreamEncoder:
    """Encodes 16-bit mono PCM to MP3 or Ogg/Opus incrementally.

    Args:
        audio_format: ``mp3`` or ``opus``.
        sample_rate: The rate of the PCM fed in.
    """

    def __init__(self, audio_format: Literal["mp3", "opus"], sample_rate: int) -> None:
        import av  # the optional voice install

        container, codec, rate = _CODECS[audio_format]
        self.sample_rate = sample_rate
        self._sink = _Sink()
        # Short Ogg pages: the muxer would otherwise hold a second of audio back.
        options = {"page_duration": "100000"} if container == "ogg" else {}
        self._out = cast(Any, av.open(self._sink, "w", format=container, options=options))
        self._stream = cast(Any, self._out.add_stream(codec, rate=rate or sample_rate))
        self._stream.layout = "mono"
        self._resampler = av.AudioResampler(
            format=self._stream.codec_context.format.name, layout="mono", rate=rate or sample_rate
        )

    def encode(self, pcm: bytes) -> bytes:
        """Encode a piece of PCM; the bytes ready so far."""
        import av

        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        self._mux(self._resampler.resample(frame))
        return self._sink.take()

    def close(self) -> bytes:
        """Flush the encoder; the last bytes."""
        self._mux(self._resampler.resample(None))
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()
        return self._sink.take()

    def _mux(self, frames: Any) -> None:
        for frame in frames:
            for packet in self._stream.encode(frame):
                self._out.mux(packet)


async def encode_stream(
    chunks: AsyncIterator[bytes], sample_rate: int, audio_format: AudioFormat
) -> AsyncIterator[bytes]:
    """``chunks`` of PCM as a stream of ``audio_format`` (a WAV header first for ``wav``)."""
    if audio_format == "wav" or audio_format == "pcm":
        if audio_format == "wav":
            yield wav_header(sample_rate)
        async for chunk in chunks:
            yield chunk
        return
    encoder = StreamEncoder(audio_format, sample_rate)
    async for chunk in chunks:
        data = await anyio.to_thread.run_sync(encoder.encode, chunk)
        if data:
            yield data
    tail = await anyio.to_thread.run_sync(encoder.close)
    if tail:
        yield tail
