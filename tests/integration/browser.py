"""Debian's Chromium, headless, driven by its ChromeDriver through Selenium: the dashboard used
as an operator uses it. Screenshots go to ARTIFACTS, kept after the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ARTIFACTS = Path(
    os.environ.get("STACKYARD_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
# Headless as root, and no calls to Google's services (this machine's network refuses them).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@contextmanager
def chromium(folder: str) -> Iterator[tuple[webdriver.Chrome, Path]]:
    """A browser and the folder for its screenshots (ARTIFACTS/folder)."""
    shots = ARTIFACTS / folder
    shots.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver, shots
    finally:
        driver.save_screenshot(str(shots / "last.png"))
        driver.quit()
