"""The configuration file: the shipped example, every kind of mistake, the overrides."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT, config_dict

from libfed.kernel.config import (
    CONFIG_ENV,
    DATABASE_URL_ENV,
    ConfigError,
    load_config,
    parse_config,
)

EXAMPLE = ROOT / "config.example.toml"
URL = "sqlite:///var/test.sqlite3"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # `make test` exports LIBFED_CONFIG; a developer may have LIBFED_DATABASE_URL set.
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


def example() -> dict:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value)


def test_example_configuration_parses_with_the_documented_defaults() -> None:
    config = parse_config(example(), origin=str(EXAMPLE))
    assert config.database.url == "sqlite:///var/libfed.sqlite3"
    assert config.oai.page_size == 500
    assert config.oai.token_ttl_seconds == 86_400
    assert config.oai.repository_identifier == "libfed.example.org"
    assert config.oai.base_url == "http://127.0.0.1:8080/oai"
    assert config.oai.admin_emails == ["oai-admin@libfed.example.org"]
    assert config.server.secret_key is None  # commented out: generated and kept in the database


def test_the_public_root_address_is_the_oai_base_url_less_oai_unless_given() -> None:
    """Partners reach the federation's endpoints under it: a wrong root would make every
    signed request fail its target check."""
    data = example()
    assert parse_config(data).public_base_url == "http://127.0.0.1:8080"
    data["federation"]["base_url"] = "https://libfed.example.org/"
    assert parse_config(data).public_base_url == "https://libfed.example.org"
    data["federation"]["base_url"] = "ftp://libfed.example.org"
    assert "federation.base_url" in error_of(data)
    data["federation"] = {"isil": "not an isil"}
    assert "federation.isil" in error_of(data)


def test_defaults_apply_when_optional_keys_are_left_out() -> None:
    data = example()
    del data["database"]
    del data["oai"]["page_size"]
    del data["oai"]["token_ttl_seconds"]
    config = parse_config(data)
    assert config.database.url == "sqlite:///var/libfed.sqlite3"
    assert config.oai.page_size == 500
    assert config.oai.token_ttl_seconds == 86_400


def test_unknown_top_level_key_is_named() -> None:
    data = example()
    data["databse"] = {"url": URL}
    message = error_of(data)
    assert "databse" in message
    assert "unknown key" in message


def test_unknown_key_inside_oai_is_named_with_its_section() -> None:
    data = example()
    data["oai"]["page_sise"] = 10
    message = error_of(data)
    assert "oai.page_sise" in message
    assert "unknown key" in message


def test_page_size_of_the_wrong_type_is_named() -> None:
    data = example()
    data["oai"]["page_size"] = "ten"
    assert "oai.page_size" in error_of(data)


def test_page_size_is_not_coerced_from_a_numeric_string_or_a_boolean() -> None:
    for value in ("10", True, 10.5):
        data = example()
        data["oai"]["page_size"] = value
        assert "oai.page_size" in error_of(data), value


def test_page_size_out_of_range_is_named() -> None:
    for value in (0, 10_001):
        data = example()
        data["oai"]["page_size"] = value
        assert "oai.page_size" in error_of(data), value


def test_admin_emails_as_a_string_instead_of_a_list_is_named() -> None:
    data = example()
    data["oai"]["admin_emails"] = "x@y.z"
    assert "oai.admin_emails" in error_of(data)


def test_empty_admin_emails_is_refused() -> None:
    data = example()
    data["oai"]["admin_emails"] = []
    assert "oai.admin_emails" in error_of(data)


def test_missing_repository_identifier_is_named() -> None:
    data = example()
    del data["oai"]["repository_identifier"]
    message = error_of(data)
    assert "oai.repository_identifier" in message
    assert "missing" in message


def test_missing_oai_section_is_named() -> None:
    data = example()
    del data["oai"]
    message = error_of(data)
    assert "oai" in message
    assert "missing" in message


@pytest.mark.parametrize(
    "value", ["libfed example org", "localhost", "1library.example.org", "libfed.example.org/oai"]
)
def test_bad_repository_identifier_is_named(value: str) -> None:
    data = example()
    data["oai"]["repository_identifier"] = value
    message = error_of(data)
    assert "oai.repository_identifier" in message
    assert repr(value) in message


@pytest.mark.parametrize("value", ["not-an-address", "admin@localhost", "a b@example.org"])
def test_bad_email_is_named(value: str) -> None:
    data = example()
    data["oai"]["admin_emails"] = ["good@example.org", value]
    message = error_of(data)
    assert "oai.admin_emails" in message
    assert repr(value) in message


@pytest.mark.parametrize(
    "value", ["ftp://example.org/oai", "example.org/oai", "http://example.org/oai?verb=Identify"]
)
def test_non_http_base_url_is_named(value: str) -> None:
    data = example()
    data["oai"]["base_url"] = value
    message = error_of(data)
    assert "oai.base_url" in message


def test_https_base_url_is_accepted() -> None:
    data = example()
    data["oai"]["base_url"] = "https://library.example.org/oai"
    assert parse_config(data).oai.base_url == "https://library.example.org/oai"


def test_short_secret_key_is_named() -> None:
    data = example()
    data["server"] = {"secret_key": "too short"}
    assert "server.secret_key" in error_of(data)


def test_every_problem_is_reported_at_once() -> None:
    data = example()
    data["oai"]["page_size"] = "ten"
    data["oai"]["base_url"] = "ftp://example.org/oai"
    message = error_of(data)
    assert "oai.page_size" in message
    assert "oai.base_url" in message


def test_database_url_environment_variable_overrides_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg://libfed@db.example.org/libfed")
    config = parse_config(example())
    assert config.database.url == "postgresql+psycopg://libfed@db.example.org/libfed"


def test_database_url_environment_variable_works_without_a_database_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, URL)
    data = example()
    del data["database"]
    assert parse_config(data).database.url == URL


def test_parse_config_does_not_modify_the_callers_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, URL)
    data = example()
    before = copy.deepcopy(data)
    parse_config(data)
    assert data == before


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


VALID_TOML = """\
[database]
url = "sqlite:///var/from-file.sqlite3"

[exchange]
home_country = "AZ"

[oai]
repository_name = "File repository"
repository_identifier = "file.example.org"
base_url = "http://127.0.0.1/oai"
admin_emails = ["admin@file.example.org"]
page_size = 25
"""


def test_load_config_reads_the_given_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "libfed.toml", VALID_TOML))
    assert config.oai.repository_identifier == "file.example.org"
    assert config.oai.page_size == 25
    # A relative SQLite path is the file's folder's, not the working directory's.
    assert config.database.url == f"sqlite:///{tmp_path}/var/from-file.sqlite3"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/libfed/libfed.sqlite3",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:var/x.sqlite3?mode=ro&uri=true",
        "postgresql://libfed:secret@db.example.az/libfed",
    ],
)
def test_other_database_urls_in_the_file_are_kept_as_written(tmp_path: Path, url: str) -> None:
    path = write(tmp_path / "c.toml", VALID_TOML.replace("sqlite:///var/from-file.sqlite3", url))
    assert load_config(path).database.url == url


def test_the_default_database_is_beside_the_file_too(tmp_path: Path) -> None:
    without = VALID_TOML.replace('[database]\nurl = "sqlite:///var/from-file.sqlite3"\n', "")
    config = load_config(write(tmp_path / "c.toml", without))
    assert config.database.url == f"sqlite:///{tmp_path}/var/libfed.sqlite3"


def test_a_config_file_named_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make serve`: LIBFED_CONFIG=config.toml, run from the project's root.
    write(tmp_path / "config.toml", VALID_TOML)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_ENV, "config.toml")
    assert load_config().database.url == f"sqlite:///{tmp_path}/var/from-file.sqlite3"


def test_load_config_with_a_missing_file_says_so_and_how_to_choose_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    message = str(caught.value)
    assert str(missing) in message
    assert "cannot read" in message
    assert "--config" in message
    assert CONFIG_ENV in message


def test_load_config_with_broken_toml_names_the_file(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.toml", '[oai]\nrepository_name = "unterminated\n')
    with pytest.raises(ConfigError) as caught:
        load_config(broken)
    message = str(caught.value)
    assert str(broken) in message
    assert "not valid TOML" in message


def test_load_config_with_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(VALID_TOML.replace("File repository", "Bibliothèque").encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(latin1)
    assert str(latin1) in str(caught.value)


def test_load_config_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "typo.toml", VALID_TOML + "page_sise = 10\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "oai.page_sise" in message


def test_libfed_config_environment_variable_selects_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "chosen.toml", VALID_TOML)
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config().oai.repository_identifier == "file.example.org"


def test_explicit_path_wins_over_libfed_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "does-not-exist.toml"))
    path = write(tmp_path / "explicit.toml", VALID_TOML)
    assert load_config(path).oai.repository_identifier == "file.example.org"


def test_libfed_config_pointing_nowhere_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv(CONFIG_ENV, str(missing))
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config()


def test_default_file_is_config_toml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_config()
    write(tmp_path / "config.toml", VALID_TOML)
    assert load_config().oai.repository_identifier == "file.example.org"


def test_database_url_environment_variable_overrides_a_loaded_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, URL)
    assert load_config(write(tmp_path / "c.toml", VALID_TOML)).database.url == URL


def test_test_configuration_helper_is_valid() -> None:
    # The shared helper every other test builds on must itself be a valid configuration.
    config = parse_config(config_dict(URL))
    assert config.database.url == URL


@pytest.mark.parametrize("value", ["XX", "Azerbaijan", "", "AZE"])
def test_bad_home_country_is_named(value: str) -> None:
    data = example()
    data["exchange"]["home_country"] = value
    assert "exchange.home_country" in error_of(data)


def test_missing_exchange_section_is_named() -> None:
    data = example()
    del data["exchange"]
    assert "exchange: required value is missing" in error_of(data)


def test_home_country_is_read_in_either_case() -> None:
    data = example()
    data["exchange"]["home_country"] = "uz"
    assert parse_config(data).exchange.home_country == "UZ"
