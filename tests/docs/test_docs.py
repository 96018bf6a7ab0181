"""Every ```python block in README.md and docs/ runs, so the docs cannot rot.

The blocks of one page share a namespace and run in order, as a reader
would type them.

A page whose blocks are the files of a project (each opens with its path,
``# cards/views.py``, or ``# cards/views.py (continued)`` to add to it) is
followed instead: the test makes the project with the page's own commands,
writes the files, and runs the project's tests in a process of its own.
``howto-django.md`` is such a page, so that Django's process-wide settings
stay out of this one; so is ``howto-fastapi.md``, a service under
``uvicorn --workers 2`` on a real ``redis-server`` and the standalone Stripe
stand-in, which the test starts as the page's console lines do.

Each how-to's install line (``python -m pip install ...``) is run as written
in a fresh virtual environment, with the package under test (this source
tree, or the wheel of ``make test WHEEL=...``) in place of
``issuing-elements`` from PyPI, and the page's code runs there: a missing
extra or framework fails. These tests are marked ``venv`` (slow: one venv per
page, PyPI through pip's cache); ``-m "not venv"`` leaves them out.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from issuing_elements.testing import free_port
from redis_server import RedisServer

ROOT = Path(__file__).parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_BLOCK = re.compile(r"\A# (?P<path>[\w/]+\.py)(?P<continued> \(continued\))?\n")


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def is_project(page: Path) -> bool:
    return any(FILE_BLOCK.match(block) for block in blocks(page))


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if blocks(page) and not is_project(page)],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_page_runs(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, source in enumerate(blocks(page), start=1):
        code = compile(source, f"{page.name}, block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - running our own docs is the point


def test_pages_link_only_to_pages_that_exist() -> None:
    missing = [
        (page.name, target)
        for page in PAGES
        for target in re.findall(
            r"\]\(([\w\-]+\.md)\)", page.read_text(encoding="utf-8")
        )
        if not (page.parent / target).exists()
    ]
    assert [] == missing


# Warnings are errors, as in this suite; stripe-python's own is let be.
WARNINGS = ["-W", "error", "-W", "ignore:Use 'content=<...>':DeprecationWarning"]

# The page's console steps, run as a reader types them; `cd mysite` is cwd.
DJANGO_STEPS = [
    "django-admin startproject mysite",
    "python manage.py startapp cards",
    "python manage.py migrate",
]
DJANGO_TEST = "python manage.py test cards"


def run(command: str, cwd: Path, python: str = sys.executable) -> str:
    """*command* as the page spells it, with *python* as ``python``."""
    program, *arguments = command.split()
    # `django-admin` is `python -m django`; `python` is *python*.
    module = ["-m", "django"] if program == "django-admin" else []
    done = subprocess.run(  # noqa: S603 - our interpreter, the page's commands
        [python, *WARNINGS, *module, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def follow_django_page(tmp_path: Path, python: str = sys.executable) -> None:
    page = ROOT / "docs" / "howto-django.md"
    text = page.read_text(encoding="utf-8")
    assert [] == [step for step in [*DJANGO_STEPS, DJANGO_TEST] if step not in text]
    project = tmp_path / "mysite"
    run(DJANGO_STEPS[0], tmp_path, python)
    for step in DJANGO_STEPS[1:]:
        run(step, project, python)

    write_files(page, project)

    written = sum(block.count("def test_") for block in blocks(page))
    assert f"Ran {written} tests" in run(DJANGO_TEST, project, python)


def write_files(page: Path, project: Path) -> None:
    """Each block of *page* into the file it opens with, in *project*."""
    for block in blocks(page):
        found = FILE_BLOCK.match(block)
        assert found is not None, f"a block without its file: {block[:60]!r}"
        target = project / found["path"]
        source = block[found.end() :]
        if found["continued"]:
            source = target.read_text(encoding="utf-8") + "\n\n" + source
        target.write_text(source, encoding="utf-8")


def test_django_page_followed_to_the_letter(tmp_path: Path) -> None:
    follow_django_page(tmp_path)


# The FastAPI page's console lines, in the order a reader runs them. The test
# runs each on a free port of its own (the page's are examples).
FASTAPI_COMMANDS = [
    'redis-server --port 6379 --save "" --appendonly no',
    "python -m issuing_elements.testing --port 12111 --card ic_alice",
    "uvicorn app:app --workers 2 --port 8000",
    "python try_it.py",
]
# Long enough for a machine at load 8; a wait ends as soon as it can.
PATIENCE = 60.0


def uvicorn_environment(text: str) -> dict[str, str]:
    """The ``NAME=value`` lines the page sets before ``uvicorn``."""
    (block,) = [
        block for block in CONSOLE_BLOCK.findall(text) if FASTAPI_COMMANDS[2] in block
    ]
    pairs = [
        line.rstrip(" \\").split("=", 1)
        for line in block.splitlines()
        if re.match(r"^[A-Z_]+=", line)
    ]
    return dict(pairs)


@contextmanager
def started(
    argv: list[str], log: Path, *, cwd: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[str]]:
    """*argv* running, stdout piped, stderr to *log*; SIGTERM at the end."""
    with log.open("w") as errors:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, the page's commands
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def wait_until_listening(port: int, process: subprocess.Popen[str], log: Path) -> None:
    end = time.monotonic() + PATIENCE
    while time.monotonic() < end:
        assert process.poll() is None, log.read_text(encoding="utf-8")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on {port}:\n{log.read_text(encoding='utf-8')}")


def follow_fastapi_page(
    tmp_path: Path, redis_program: str, python: str = sys.executable
) -> None:
    page = ROOT / "docs" / "howto-fastapi.md"
    text = page.read_text(encoding="utf-8")
    assert [] == [command for command in FASTAPI_COMMANDS if command not in text]
    page_environment = uvicorn_environment(text)
    assert ["ALLOWED_ORIGINS", "REDIS_URL", "STRIPE_API_BASE", "STRIPE_SECRET_KEY"] == (
        sorted(page_environment)
    )
    project = tmp_path / "service"
    project.mkdir()
    write_files(page, project)
    redis_server = RedisServer(redis_program, tmp_path)
    redis_server.start()
    stand_in_argv = [python, "-m", "issuing_elements.testing", "--port", "0"]
    stand_in_argv += ["--card", "ic_alice"]
    port = free_port()
    uvicorn_argv = [python, *WARNINGS, "-m", "uvicorn", "app:app", "--workers", "2"]
    uvicorn_argv += ["--host", "127.0.0.1", "--port", str(port)]
    try:
        with started(
            stand_in_argv, tmp_path / "stripe.log", cwd=project, env=dict(os.environ)
        ) as stand_in:
            assert stand_in.stdout is not None
            stripe = json.loads(stand_in.stdout.readline())
            environment = {
                **os.environ,
                **page_environment,
                "STRIPE_SECRET_KEY": stripe["api_key"],
                "STRIPE_API_BASE": stripe["url"],
                "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
            }
            server_log = tmp_path / "uvicorn.log"
            with started(uvicorn_argv, server_log, cwd=project, env=environment) as app:
                wait_until_listening(port, app, server_log)
                tried = subprocess.run(  # noqa: S603 - the page's script
                    [python, *WARNINGS, "try_it.py"],
                    cwd=project,
                    env={
                        **os.environ,
                        "APP_URL": f"http://127.0.0.1:{port}",
                        "STRIPE_API_BASE": stripe["url"],
                        "STRIPE_PUBLISHABLE_KEY": stripe["publishable_key"],
                    },
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
    finally:
        redis_server.stop()
    served = server_log.read_text(encoding="utf-8")

    assert 0 == tried.returncode, tried.stdout + tried.stderr + served
    # Both workers started and shut down through the lifespan, closing their
    # clients (aiohttp and redis-py complain of a client left open).
    assert (2, 2, [], []) == (
        served.count("Application startup complete."),
        served.count("Application shutdown complete."),
        re.findall(r"Unclosed \w+|Traceback", served),
        re.findall(r"ERROR.*", served),
    )


def test_fastapi_page_followed_to_the_letter(
    tmp_path: Path, require_system: Callable[[str], str]
) -> None:
    follow_fastapi_page(tmp_path, require_system("redis-server"))


HOWTOS = sorted((ROOT / "docs").glob("howto-*.md"))
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.MULTILINE | re.DOTALL)
INSTALL = "python -m pip install "
OURS = re.compile(r"issuing-elements(?:\[(?P<extras>[\w,]+)\])?")


def install_lines(page: Path) -> list[str]:
    """The page's ``python -m pip install ...`` lines."""
    text = page.read_text(encoding="utf-8")
    return [
        line
        for block in CONSOLE_BLOCK.findall(text)
        for line in block.splitlines()
        if line.startswith(INSTALL)
    ]


def names_ours(line: str, pattern: re.Pattern[str]) -> bool:
    words = shlex.split(line.removeprefix(INSTALL), comments=True)
    return any(pattern.fullmatch(word) for word in words)


def install_line(page: Path) -> str:
    """The page's one ``python -m pip install ...`` line from PyPI."""
    lines = [line for line in install_lines(page) if names_ours(line, OURS)]
    assert 1 == len(lines), f"{page.name}: {lines}"
    return lines[0]


# Before the first release: the same line, from a clone's folder.
FROM_A_CLONE = re.compile(r"\./issuing-elements(?:\[(?P<extras>[\w,]+)\])?")
CLONE = "git clone https://github.com/issuing-elements/issuing-elements"


@pytest.mark.parametrize("page", HOWTOS, ids=lambda page: page.name)
def test_each_howto_says_how_to_install_from_a_clone(page: Path) -> None:
    """The PyPI line, with ``./issuing-elements`` in place, after a clone."""
    pypi = install_line(page)
    from_clone = [
        line for line in install_lines(page) if names_ours(line, FROM_A_CLONE)
    ]
    expected = re.sub(r'("?)issuing-elements', r"\1./issuing-elements", pypi, count=1)

    assert ([expected], True) == (
        from_clone,
        CLONE in page.read_text(encoding="utf-8"),
    )


def package_under_test() -> str:
    """Where pip takes issuing-elements from: the wheel under test, or src."""
    if os.environ.get("ISSUING_ELEMENTS_EXPECT_INSTALLED") == "1":
        wheel = os.environ.get("ISSUING_ELEMENTS_WHEEL", "")
        assert wheel.endswith(".whl"), "make test WHEEL=... sets ISSUING_ELEMENTS_WHEEL"
        return Path(wheel).resolve().as_uri()
    return ROOT.as_uri()


def requirements(line: str) -> list[str]:
    """The line's arguments, ours pointed at the package under test."""
    words = shlex.split(line.removeprefix(INSTALL), comments=True)
    ours = [word for word in words if OURS.fullmatch(word)]
    assert 1 == len(ours), f"the line names issuing-elements once: {line}"
    return [
        f"{word} @ {package_under_test()}" if word in ours else word for word in words
    ]


@pytest.mark.parametrize("page", HOWTOS, ids=lambda page: page.name)
def test_each_howto_installs_the_extras_its_code_needs(page: Path) -> None:
    found = OURS.search(install_line(page))
    assert found is not None
    extras = set((found["extras"] or "").split(","))
    code = "\n".join(blocks(page))
    needs_async = re.search(r"\ba(handle|issue|revoke)\(", code) is not None

    assert needs_async == ("async" in extras)


def issuer_calls(page: Path) -> list[tuple[bool, str]]:
    """(passes allowed_origins, the call's text) for each issuer the page builds."""
    found = []
    for block in blocks(page):
        for node in ast.walk(ast.parse(block)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "EphemeralKeyIssuer"
            ):
                named = {keyword.arg for keyword in node.keywords}
                text = ast.get_source_segment(block, node) or ""
                found.append(("allowed_origins" in named, text))
    return found


@pytest.mark.parametrize("page", HOWTOS, ids=lambda page: page.name)
def test_each_howto_passes_allowed_origins(page: Path) -> None:
    """The origin check is opt-in: every issuer a how-to builds opts in."""
    calls = issuer_calls(page)

    assert (True, []) == (
        bool(calls),
        [text for passes, text in calls if not passes],
    )


def fresh_venv(page: Path, where: Path) -> str:
    """A new virtual environment holding what the page's install line says."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)  # noqa: S603 - this interpreter
    python = str(venv / "bin" / "python")
    done = subprocess.run(  # noqa: S603 - the page's own install line
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements(install_line(page)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    return python


@pytest.mark.venv
@pytest.mark.parametrize("page", HOWTOS, ids=lambda page: page.name)
def test_each_howto_runs_in_a_venv_made_from_its_install_line(
    page: Path, tmp_path: Path, require_system: Callable[[str], str]
) -> None:
    redis_program = (
        require_system("redis-server") if page.name == "howto-fastapi.md" else ""
    )
    python = fresh_venv(page, tmp_path)
    if page.name == "howto-fastapi.md":
        follow_fastapi_page(tmp_path, redis_program, python)
        return
    if is_project(page):
        follow_django_page(tmp_path, python)
        return
    script = tmp_path / f"{page.stem.replace('-', '_')}.py"
    script.write_text("\n\n".join(blocks(page)), encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - the venv's interpreter, the page's code
        [python, *WARNINGS, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert 0 == done.returncode, done.stdout + done.stderr
