"""Headless Chromium screenshots of the affinity page and the memory list.

Skipped when Debian's ``chromium`` is not installed. The PNGs go to ``EROS_ADMIN_SCREENSHOTS``
when that is set (to look at them), else to a temporary directory:

    EROS_ADMIN_SCREENSHOTS=/tmp/eros-shots pytest tests/admin/test_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.admin.chromium import Chromium, chromium_binary, png_size

pytestmark = pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed")


@pytest.fixture
def shots(tmp_path) -> Path:
    target = os.environ.get("EROS_ADMIN_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.django_db(transaction=True)
def test_affinity_page_and_memory_list_render_in_chromium(
    live_server, fresh_relationship, staff, shots
):
    client = Client()
    client.force_login(staff)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    affinity_url = live_server.url + reverse(
        "admin:companions_companionaffinity_change", args=[fresh_relationship.affinity.id]
    )
    memories_url = live_server.url + reverse("admin:memory_companionmemory_changelist")

    with Chromium() as browser:
        browser.open(affinity_url, cookies=cookies)
        charts = browser.evaluate(
            "[...document.querySelectorAll('svg.eros-chart')].map(s => {"
            " const r = s.getBoundingClientRect();"
            " return [r.width, r.height, s.querySelectorAll('polyline').length]; })"
        )
        affinity_png = browser.screenshot(shots / "affinity.png")
        pictures_png = browser.screenshot_element(
            "#affinity-pictures", shots / "affinity-pictures.png"
        )
        browser.open(memories_url, cookies=cookies)
        rows = browser.evaluate("document.querySelectorAll('#result_list tbody tr').length")
        memories_png = browser.screenshot(shots / "memories.png", full_page=False)

    # The vector (bars) and the history (one line per axis) are laid out at a readable size.
    assert len(charts) == 2
    (bars_w, bars_h, bars_lines), (hist_w, hist_h, hist_lines) = charts
    assert bars_w >= 500 and bars_h >= 200 and bars_lines == 0
    assert hist_w >= 700 and hist_h >= 600 and hist_lines == 6
    assert png_size(affinity_png)[0] == 1400 and png_size(affinity_png)[1] > 1200
    assert png_size(pictures_png)[0] >= 700 and png_size(pictures_png)[1] >= 800
    assert rows == 100
    assert png_size(memories_png) == (1400, 900)
