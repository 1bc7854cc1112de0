"""A student's path through the lessons in Voilà and Chromium: the app's header links to the
lesson index, the index links to each lesson page, and an exercise there checks typed answers,
gives a hint and the worked answer.

The expected numbers come from the article's reasoning: with w = 3 over five layers, layer 1
receives 3⁴ = 81."""

from __future__ import annotations

import pytest

from tests.serving import open_app

pytestmark = pytest.mark.browser

# the first exercise's first verdict line, as the page shows it
VERDICT_JS = """() => (document.querySelector('.ge-exercise .ge-exercise-verdict')
  || {textContent: ''}).textContent"""


def test_the_header_links_to_the_lesson_index(browser, server: str) -> None:
    page = open_app(browser, server)
    try:
        link = page.locator("a.ge-lessons-link")
        assert link.get_attribute("href") == "lessons/"
        assert link.evaluate("a => a.href") == server + "lessons/"
    finally:
        page.close()


def test_a_lesson_page_checks_an_answer(browser, server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(server + "lessons/", wait_until="domcontentloaded")
        links = page.locator("a.ge-lesson-link")
        assert links.count() == 5
        assert page.locator(".ge-lesson-summary").count() == 5
        links.first.click()
        page.wait_for_url(server + "lessons/01_deep_network", timeout=90_000)
        first = page.locator(".ge-exercise").first
        first.wait_for(timeout=90_000)
        assert "Weights above and below 1" in first.inner_text()
        assert "accepted within 0.1%" in first.inner_text()  # the tolerance is stated

        answer = first.locator(".ge-exercise-input input").first
        answer.fill("81")
        answer.press("Enter")
        page.wait_for_function(f"({VERDICT_JS})().includes('Right')", timeout=30_000)
        verdict = first.locator(".ge-exercise-verdict").first
        assert verdict.locator(".ge-verdict-right").count() == 1  # green, in words and colour

        answer.fill("80")
        first.locator(".ge-exercise-check").first.click()
        page.wait_for_function(f"({VERDICT_JS})().includes('Not yet')", timeout=30_000)
        assert "too low" in verdict.inner_text()
        assert verdict.locator(".ge-verdict-wrong").count() == 1

        answer.fill("eighty-one")
        answer.press("Enter")
        page.wait_for_function(f"({VERDICT_JS})().includes('Could not read')", timeout=30_000)

        first.locator(".ge-exercise-hint-button").click()
        hint = first.locator(".ge-exercise-hint")
        hint.wait_for(state="visible", timeout=30_000)
        assert "four times" in hint.inner_text()
        first.locator(".ge-exercise-answer-button").click()
        worked = first.locator(".ge-exercise-answer")
        worked.wait_for(state="visible", timeout=30_000)
        assert "3⁴ = 81" in worked.inner_text()
        assert "0.9⁴ = 0.6561" in worked.inner_text()
    finally:
        page.close()
