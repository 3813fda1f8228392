"""``cnnviz app`` without a server: the Voilà command line it builds, the addresses it prints, where it finds the
installed classroom notebook, and the errors that name the fix. tests/browser/test_voila_app.py serves it for real."""

from __future__ import annotations

import sys

import pytest

from cnnviz_widget import app
from cnnviz_widget.cli import main
from cnnviz_widget.errors import AppError


def test_voila_serves_the_notebook_with_the_offline_template_on_the_port_asked_for(tmp_path):
    assert app.voila_arguments(tmp_path / "lesson.ipynb", "0.0.0.0", 9000, "s3cret") == [
        str(tmp_path / "lesson.ipynb"), "--no-browser", "--Voila.ip=0.0.0.0", "--port=9000", "--Voila.port_retries=0",
        "--template=cnnviz", "--Voila.token=s3cret",
        "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension"]
    assert (app.TEMPLATES / "voila" / "templates" / "cnnviz" / "index.html.j2").is_file()


def test_the_addresses_carry_the_token():
    assert app.addresses("127.0.0.1", 8866, "abc") == ["http://127.0.0.1:8866/?token=abc"]
    assert app.addresses("192.168.1.20", 80, "") == ["http://192.168.1.20:80/"]
    every = app.addresses("0.0.0.0", 8866, "abc")  # this machine's name, then its network address (if it has one)
    assert every[0].startswith("http://") and every[0].endswith(":8866/?token=abc")
    assert 1 <= len(every) <= 2
    assert len(app.new_token()) == 12 and app.new_token() != app.new_token()


def test_the_installed_notebook_is_found_under_the_data_prefix(tmp_path, monkeypatch):
    monkeypatch.setattr(app.sysconfig, "get_path", lambda name: str(tmp_path / "env"))
    monkeypatch.setattr(app.site, "getuserbase", lambda: str(tmp_path / "user"))
    assert app.installed_notebook() is None
    (tmp_path / "user" / app.NOTEBOOK).parent.mkdir(parents=True)
    (tmp_path / "user" / app.NOTEBOOK).write_text("{}")
    assert app.installed_notebook() == tmp_path / "user" / "share" / "cnnviz-widget" / "classroom-app.ipynb"
    (tmp_path / "env" / app.NOTEBOOK).parent.mkdir(parents=True)
    (tmp_path / "env" / app.NOTEBOOK).write_text("{}")
    assert app.installed_notebook() == tmp_path / "env" / app.NOTEBOOK  # the environment's before the user's


def test_errors_name_the_fix(tmp_path, monkeypatch, capsys):
    with pytest.raises(AppError, match=r"no notebook '.*nope.ipynb': pass the path of a \.ipynb file"):
        app.serve(tmp_path / "nope.ipynb")
    monkeypatch.setattr(app, "installed_notebook", lambda: None)
    with pytest.raises(AppError, match="pass one, e.g. `cnnviz app notebooks/classroom-app.ipynb`"):
        app.serve()
    monkeypatch.setitem(sys.modules, "voila.app", None)  # as if Voilà were not installed
    with pytest.raises(AppError, match=r"Voilà is not installed: pip install 'cnnviz-widget\[app\]'"):
        app.serve(tmp_path / "nope.ipynb")
    assert main(["app", str(tmp_path / "nope.ipynb")]) == 2
    assert "cnnviz app: error: Voilà is not installed" in capsys.readouterr().err


def test_token_options_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["app", "--token", "x", "--no-token"])
    assert "not allowed with argument" in capsys.readouterr().err
