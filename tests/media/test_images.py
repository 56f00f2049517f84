"""Still images of the image sets are scaled and re-encoded as video frames are, with
the same caps, in the isolated decoder process; bad images are failures with a reason."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers.datasets import image_bytes, mean_color, png_header, same_color, truncated
from vidray.media import images, isolate
from vidray.media.decode import MAX_PIXELS, DecodeFailure

RED, BLUE = (200, 40, 40), (30, 60, 210)


def encode(data: list[bytes], size: int | None = 32, quality: int = 90) -> images.Stills:
    return images.encode_images(
        data, names=[f"img{k}" for k in range(len(data))], size=size, quality=quality
    )


def size_of(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        return image.size


def test_short_side_is_size_aspect_kept_and_native_size_keeps_it():
    wide = image_bytes(300, 200, RED)
    (jpeg,), (size,) = (s := encode([wide], size=100)).jpegs, s.sizes
    assert size == size_of(jpeg) == (150, 100)
    assert same_color(jpeg, RED)
    native = encode([wide], size=None)
    assert native.sizes == [(300, 200)] and size_of(native.jpegs[0]) == (300, 200)
    # a small image is enlarged to the short side, as a small video frame is
    tall = encode([image_bytes(20, 40, BLUE)], size=64)
    assert tall.sizes == [(64, 128)] and same_color(tall.jpegs[0], BLUE)


def test_png_with_alpha_and_jpeg_quality():
    rgba = Image.new("RGBA", (40, 30), (*BLUE, 128))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    (jpeg,) = encode([buf.getvalue()], size=None).jpegs
    assert size_of(jpeg) == (40, 30)
    noisy = image_bytes(200, 160, RED)
    low, high = encode([noisy], size=None, quality=20), encode([noisy], size=None, quality=95)
    assert len(low.jpegs[0]) < len(high.jpegs[0])


def test_several_images_keep_each_their_own_aspect_and_order():
    stills = encode([image_bytes(64, 48, RED), image_bytes(48, 96, BLUE)], size=24)
    assert stills.sizes == [(32, 24), (24, 48)]
    assert [size_of(j) for j in stills.jpegs] == stills.sizes
    assert same_color(stills.jpegs[0], RED) and same_color(stills.jpegs[1], BLUE)


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        (truncated(image_bytes(64, 48, RED)), "decode_error", "img1 is unreadable"),
        (truncated(image_bytes(64, 48, RED, "PNG")), "decode_error", "img1 is unreadable"),
        (b"not an image at all", "decode_error", "cannot identify"),
        (b"", "decode_error", "img1 is unreadable"),
        # the header alone is refused: nothing of its 45 million pixels is decoded
        (png_header(9000, 5000), "too_large", f"9000x5000, above {MAX_PIXELS} pixels"),
        # beyond Pillow's own bomb limit too: still vidray's reason
        (png_header(40000, 40000), "too_large", "image img1"),
    ],
)
def test_bad_images_fail_with_their_reason(data, reason, words):
    with pytest.raises(DecodeFailure) as info:
        encode([image_bytes(16, 16, BLUE), data])
    assert info.value.reason == reason
    assert words in info.value.message and "img1" in info.value.message
    # error rows are the same bytes run to run: no object address from Pillow
    assert " object at 0x" not in info.value.message


def test_an_image_file_above_the_byte_cap_is_refused_unread(monkeypatch):
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(DecodeFailure, match="above 100") as info:
        encode([image_bytes(64, 48, RED)])
    assert info.value.reason == "too_large"


def test_the_isolated_decoder_encodes_images_and_reports_failures():
    decoder = isolate.IsolatedDecoder(timeout_s=30)
    try:
        stills = decoder.encode_images(
            [image_bytes(90, 60, RED)], names=["a.jpg"], size=30, quality=90
        )
        assert stills.sizes == [(45, 30)] and mean_color(stills.jpegs[0])[0] > 150
        with pytest.raises(DecodeFailure, match=r"a\.jpg is unreadable") as info:
            decoder.encode_images([b"\xff\xd8\xff"], names=["a.jpg"], size=30, quality=90)
        assert info.value.reason == "decode_error"
    finally:
        decoder.close()
