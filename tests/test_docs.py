"""README.md and docs/index.md name every model and every ct.tl function."""

from __future__ import annotations

from pathlib import Path

import pytest

import chromtools as ct

ROOT = Path(__file__).resolve().parents[1]
MENTIONS = [f"`{name}`" for name in (*ct.models.MODELS, *ct.tl.__all__)] + ["`ct.io.verify"]


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
@pytest.mark.parametrize("mention", MENTIONS)
def test_the_page_names_it(page, mention):
    assert mention in (ROOT / page).read_text(), f"{page} does not mention {mention}"
