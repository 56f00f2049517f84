"""Caption-instruction pools and the deterministic draw of one instruction per sample."""

from __future__ import annotations

import hashlib
import json

from vidray.io import storage

#: Used when ``--prompts`` is not given. Written for vidray; any pool can replace it.
BUILTIN_PROMPTS: tuple[str, ...] = (
    "Describe this video in detail.",
    "What happens in this video?",
    "Give a short caption for the video.",
    "Summarize the content of the video in one sentence.",
    "Write a caption that describes the scene shown in the video.",
    "Explain what can be seen in this clip.",
    "Provide a brief description of the video.",
    "What is shown in the video? Answer with a caption.",
    "Describe the main action in this clip.",
    "Caption this video.",
    "Tell me what this video shows.",
    "Describe the visual content of the clip concisely.",
)

#: The same, for image sets (COCO, Flickr): the instruction of a caption row.
BUILTIN_IMAGE_PROMPTS: tuple[str, ...] = (
    "Describe this image in detail.",
    "What is shown in this image?",
    "Give a short caption for the image.",
    "Summarize the content of the image in one sentence.",
    "Write a caption that describes the scene in the image.",
    "Explain what can be seen in this picture.",
    "Provide a brief description of the image.",
    "What is shown in the photo? Answer with a caption.",
    "Describe the main subject of this photo.",
    "Caption this image.",
    "Tell me what this picture shows.",
    "Describe the visual content of the image concisely.",
)

#: The same in Chinese, for Chinese captions (Flickr30k-CN).
BUILTIN_IMAGE_PROMPTS_ZH: tuple[str, ...] = (
    "请描述这张图片。",
    "这张图片里有什么？",  # noqa: RUF001 - Chinese punctuation
    "用一句话概括这张图片的内容。",
    "为这张图片写一句简短的描述。",
    "请说明图片中展示的场景。",
    "图中正在发生什么？",  # noqa: RUF001 - Chinese punctuation
    "请给这张图片配一句说明文字。",
    "简要描述图片中的主要内容。",
)


class PromptError(ValueError):
    pass


def parse_prompts(text: str, name: str = "prompts") -> tuple[str, ...]:
    """A ``filtered_train.json``-style list (``QA[0]["i"]`` of each item), a JSON list
    of strings, or plain text with one instruction a line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise PromptError(f"{name}: invalid JSON: {e}") from e
        pool = []
        for k, item in enumerate(items):
            if isinstance(item, str):
                pool.append(item)
                continue
            try:
                pool.append(item["QA"][0]["i"])
            except (KeyError, IndexError, TypeError) as e:
                raise PromptError(f"{name}: item {k} has no QA[0]['i']") from e
    else:
        pool = text.splitlines()
    pool = [p.strip() for p in pool if isinstance(p, str) and p.strip()]
    if not pool:
        raise PromptError(f"{name}: no instruction found")
    return tuple(pool)


def load_prompts(uri: str | None) -> tuple[str, ...]:
    if uri is None:
        return BUILTIN_PROMPTS
    loc = storage.location(uri)
    try:
        with loc.fs.open(loc.path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError as e:
        raise PromptError(f"prompt file not found: {loc.display()}") from e
    return parse_prompts(text, loc.display())


def draw(pool: tuple[str, ...], sample_id: str, seed: int) -> str:
    """The instruction for ``sample_id``: a function of (id, seed, pool) only, so it
    does not depend on how the work was split or in which order it ran."""
    digest = hashlib.sha256(f"{seed}\0{sample_id}".encode()).digest()
    return pool[int.from_bytes(digest[:8], "big") % len(pool)]
