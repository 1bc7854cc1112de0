"""The class cap: sized from memory, and a page over it gets a clear 503 that retries by itself.

The sizing is checked on given memory figures; the refusal against a real server (the browser
half, where the refused page really loads the app once a place frees, is in
test_serving_browser.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.serving import capacity
from explorer.serving.settings import from_environment
from tests.serving import fetch, kernel_alive, kernel_id_of, voila_server, wait_for

GIB = 2**30


def test_the_cap_is_what_fits_in_memory_after_the_reserve() -> None:
    """24 GiB free of 24 GiB: the reserve is 10 % (2458 MiB), the rest holds 73 kernels of
    300 MiB; the pool takes one kernel per core (2)."""
    settings = from_environment({}, available=24 * GIB, total=24 * GIB, cpus=2)
    assert settings.reserve_mib == 2458
    assert settings.max_kernels == (24 * 1024 - 2458) // 300 == 73
    assert settings.preheat == 2


def test_a_small_machine_still_serves_one_page_and_keeps_no_pool() -> None:
    """1.5 GiB free on a 2 GiB machine: the 1 GiB floor of the reserve leaves room for one
    kernel, and a pool would take it."""
    settings = from_environment({}, available=3 * GIB // 2, total=2 * GIB, cpus=4)
    assert settings.reserve_mib == 1024
    assert settings.max_kernels == 1
    assert settings.preheat == 0


def test_the_environment_overrides_the_sizing() -> None:
    env = {
        "EXPLORER_MAX_KERNELS": "5",
        "EXPLORER_PREHEAT": "9",
        "EXPLORER_KERNEL_MIB": "500",
        "EXPLORER_RESERVE_MIB": "100",
        "EXPLORER_CELL_TIMEOUT": "30",
    }
    settings = from_environment(env, available=8 * GIB, total=8 * GIB, cpus=2)
    assert settings.max_kernels == 5
    assert settings.preheat == 5  # a pool never outgrows the cap
    assert (settings.kernel_mib, settings.reserve_mib) == (500, 100)
    assert settings.page_deadline == 60 + 30 + settings.iopub_timeout + 60
    auto = from_environment({"EXPLORER_MAX_KERNELS": "7"}, available=GIB, total=GIB, cpus=8)
    assert auto.preheat == 1  # a quarter of the cap


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("EXPLORER_MAX_KERNELS", "0", "EXPLORER_MAX_KERNELS must be at least 1"),
        ("EXPLORER_PREHEAT", "some", "EXPLORER_PREHEAT must be a whole number"),
        ("EXPLORER_CELL_TIMEOUT", "1.5", "EXPLORER_CELL_TIMEOUT must be a whole number"),
    ],
)
def test_a_setting_that_cannot_be_read_names_its_variable(name: str, value: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        from_environment({name: value}, available=GIB, total=GIB, cpus=1)


def test_room_needs_the_reserve_and_one_kernel() -> None:
    assert capacity.has_room((1024 + 300) * capacity.MIB, 1024, 300)
    assert not capacity.has_room((1024 + 299) * capacity.MIB, 1024, 300)


def class_full_delay(body: str) -> int:
    """The delay the 503 page says it retries in, from its text with the markup removed."""
    text = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    found = re.search(r"The class is full: this page retries by itself in (\d+) s\.", text)
    assert found, text[:500]
    return int(found.group(1))


def test_a_page_over_the_cap_gets_503_with_retry_after(tmp_path: Path) -> None:
    """Cap 1: the first page gets the kernel, the second a 503 whose Retry-After, text and meta
    refresh agree (2 s plus up to half of it); once the first page's kernel is freed (it never
    connected its websocket), a page is served again."""
    env = {
        "EXPLORER_MAX_KERNELS": "1",
        "EXPLORER_PREHEAT": "0",
        "EXPLORER_RETRY_AFTER": "2",
        "EXPLORER_UNCONNECTED": "3",
    }
    with voila_server(env=env, log_path=tmp_path / "server.log") as url:
        first = fetch(url)
        assert first.status == 200
        kernel = kernel_id_of(first.body)
        refused = fetch(url + "?tab=cliff")
        assert refused.status == 503
        delay = int(refused.headers["Retry-After"])
        assert delay in (2, 3)
        assert class_full_delay(refused.body) == delay
        assert f'<meta http-equiv="refresh" content="{delay}">' in refused.body
        assert refused.headers["Cache-Control"] == "no-store"
        assert "kernelId" not in refused.body  # no kernel was started for it
        wait_for(lambda: not kernel_alive(url, kernel), "the unconnected page's kernel freed")
        again = fetch(url)
        assert again.status == 200
        assert kernel_id_of(again.body) != kernel
    assert "Class full (1 kernels in use): page refused" in (tmp_path / "server.log").read_text()


def test_a_server_short_of_memory_refuses_pages(tmp_path: Path) -> None:
    """A reserve larger than the machine: no kernel may start, whatever the cap."""
    env = {"EXPLORER_RESERVE_MIB": str(10**9), "EXPLORER_MAX_KERNELS": "50"}
    with voila_server(env=env, log_path=tmp_path / "server.log") as url:
        refused = fetch(url)
    assert refused.status == 503
    assert class_full_delay(refused.body) == int(refused.headers["Retry-After"])
    assert "Kernel started" not in (tmp_path / "server.log").read_text()
