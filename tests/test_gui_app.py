"""chat_client_gui.py as a program: the demo's three windows on real screens of laptop sizes (each on an
Xvfb of its own), the windows' class for the window manager, signals that end the program and its demo
server, and the command line's port check."""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

import chat_client_gui
from common.gui.settings import Settings
from conftest import retire_tk_root
from helpers import PROJECT_ROOT, IRCTestClient, start_xvfb
from test_gui import close_and_wait, pump_until


def require(program: str) -> None:
    if shutil.which(program) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is not installed, and CI needs it")
        pytest.skip(f"no {program}")


@pytest.fixture(scope="session")
def screens():
    """``screen("1366x768")``: the display name of an Xvfb screen of that size, started when first asked
    for and kept to the end of the run: Tk never closes a display it has opened, and Xlib ends the
    process when the server of an open display goes away."""
    require("Xvfb")
    started: dict[str, tuple[subprocess.Popen, str]] = {}

    def screen(size: str) -> str:
        if size not in started:
            started[size] = start_xvfb(size)
        return started[size][1]

    yield screen
    for xvfb, _ in started.values():
        xvfb.terminate()
        xvfb.wait(5)


@pytest.fixture
def demo_on_screen(screens, tmp_path, monkeypatch):
    """``start("1366x768")``: the demo on an Xvfb screen of that size (DISPLAY points there meanwhile)."""
    started: list[chat_client_gui.Application] = []

    def start(size: str) -> chat_client_gui.Application:
        monkeypatch.setenv("DISPLAY", screens(size))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        app = chat_client_gui.Application(Settings(), "en")
        started.append(app)
        chat_client_gui.run_demo(app, chat_client_gui.parse_args(["--demo"]))
        pump_until(app.root, lambda: len(app.windows) == 3 and all(
            len(window.member_list.nicks) == 3 for window in app.windows), what="three windows with 3 members")
        app.root.update_idletasks()
        return app

    yield start
    for app in started:
        if not app.finished:
            close_and_wait(app.root, list(app.windows))
        app.finish()
        retire_tk_root(app.root)


@pytest.mark.parametrize("size", ["1366x768", "1280x720"])
def test_demo_windows_fit_the_screen_side_by_side(demo_on_screen, size):
    app = demo_on_screen(size)
    screen_width, screen_height = map(int, size.split("x"))
    boxes = []
    for window in app.windows:
        top = window.top
        box = (top.winfo_rootx(), top.winfo_rooty(), top.winfo_rootx() + top.winfo_width(),
               top.winfo_rooty() + top.winfo_height())
        boxes.append(box)
        left, upper, right, lower = box
        assert 0 <= left and right <= screen_width and 0 <= upper and lower <= screen_height, f"off screen: {box}"
        members = window.member_list
        assert members.winfo_ismapped(), f"{window.session.nick}: no member list"
        assert members.winfo_rootx() + members.winfo_width() <= right, f"{window.session.nick}: member list cut"
        listbox = members.listbox
        for row in listbox.get(0, "end"):
            assert int(listbox.tk.call("font", "measure", listbox.cget("font"), row)) <= listbox.winfo_width(), \
                f"{window.session.nick}: member {row!r} does not fit"
        assert window.view.text.winfo_width() >= 150, f"{window.session.nick}: no room for the messages"
        assert window.font.size >= 9, "text too small to read"
    for (_, _, right, _), (left, _, _, _) in zip(boxes, boxes[1:]):
        assert right <= left, f"windows overlap: {boxes}"


def test_windows_carry_the_program_class_for_the_window_manager(demo_on_screen):
    """WM_CLASS ("classchat", "Classchat") on every window, as the root has: read back from X with xdotool."""
    require("xdotool")
    app = demo_on_screen("1366x768")
    assert (app.root.winfo_name(), app.root.winfo_class()) == ("classchat", "Classchat")
    for window in app.windows:
        assert (window.top.winfo_name(), window.top.winfo_class()) == ("classchat", "Classchat")
    for option, name in (("--classname", "classchat"), ("--class", "Classchat")):
        found = subprocess.run(["xdotool", "search", "--onlyvisible", option, f"^{name}$"], capture_output=True,
                               text=True, timeout=10).stdout.split()
        assert len(found) == 3, f"xdotool {option} {name} found {found}"


@pytest.mark.parametrize("width, height", [(1280, 720), (1366, 768), (1920, 1080), (3840, 2160)])
def test_tiles_never_overlap(width, height):
    tiles = chat_client_gui.tile_side_by_side(3, width, height)
    for tile, following in zip(tiles, tiles[1:]):
        assert tile.x + tile.width + chat_client_gui.TILE_GAP <= following.x
    assert tiles[0].x >= 0 and tiles[-1].x + tiles[-1].width <= width
    assert all(tile.y + tile.height + chat_client_gui.RESERVED_HEIGHT <= height for tile in tiles)


def test_out_of_range_port_is_a_one_line_error(capsys):
    for port in ("99999", "0"):
        with pytest.raises(SystemExit) as stopped:
            chat_client_gui.main(["--port", port, "--connect"])
        assert stopped.value.code == 2
        assert capsys.readouterr().err == (f"chat_client_gui.py: error: port {port} is out of range 1-65535 "
                                           "(see --help)\n")


# ------------------------------------------------------------------ the program in a process of its own

def start_gui(display: str, *args: str) -> subprocess.Popen:
    """chat_client_gui.py in a session of its own: a process group, as a terminal's foreground job is."""
    return subprocess.Popen([sys.executable, "chat_client_gui.py", *args], cwd=PROJECT_ROOT,
                            env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def first_line(process: subprocess.Popen, timeout: float = 20.0) -> str:
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    if not readable:
        process.kill()
        raise AssertionError(f"no line from the GUI; stderr: {process.communicate()[1]}")
    return process.stdout.readline()


def watch_channel(address: tuple[str, int], nicks: set[str]) -> IRCTestClient:
    """A client in #general, returned once every one of ``nicks`` is there too."""
    watcher = IRCTestClient(address, timeout=20).register("watcher")
    watcher.send("JOIN #general")
    present = set()
    for reply in watcher.collect_until("353|366", "366"):
        present |= {name.lstrip("@+") for name in reply.params[-1].split()}
    while missing := nicks - present:
        joined = watcher.expect(rf"^(@\S+ )?:({'|'.join(missing)})!\S* JOIN ")
        present.add(joined.source_nick)
    return watcher


def ended(process: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the GUI did not end after the signal") from None
    return process.returncode, stderr


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl+C"])
def test_a_signal_ends_the_demo_and_its_server(display, how):
    gui = start_gui(display, "--demo")
    line = first_line(gui)
    found = re.search(r"listens on 127\.0\.0\.1:(\d+) \(process (\d+)\)", line)
    assert found, f"the demo did not say where its server listens: {line!r}"
    port, server_pid = int(found.group(1)), int(found.group(2))
    watcher = watch_channel(("127.0.0.1", port), {"alice", "bob", "carol"})
    if how == "SIGTERM":
        gui.send_signal(signal.SIGTERM)
    else:
        os.killpg(gui.pid, signal.SIGINT)  # the terminal sends Ctrl+C to the whole job: the server too
    code, stderr = ended(gui)
    assert code == 0 and "Traceback" not in stderr, stderr
    assert process_gone(server_pid), "the demo's server outlived the GUI"
    if how == "SIGTERM":  # the windows said goodbye before the server went
        quits = {watcher.expect(r" QUIT ").source_nick for _ in range(3)}
        assert quits == {"alice", "bob", "carol"}
    watcher.expect_closed()


def test_ctrl_c_quits_a_connected_window_cleanly(display, server_process):
    process = server_process()
    gui = start_gui(display, "--host", "127.0.0.1", "--port", str(process.address[1]), "--nick", "dana",
                    "--channel", "#general", "--connect")
    watcher = watch_channel(process.address, {"dana"})
    os.killpg(gui.pid, signal.SIGINT)
    code, stderr = ended(gui)
    assert code == 0 and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert watcher.expect(r"^(@\S+ )?:dana!\S* QUIT ").params[0] == "Quit: Leaving"
