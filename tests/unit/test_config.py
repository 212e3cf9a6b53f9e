"""Config errors, which name the file, the field path and a fix, and the ``validate`` command."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acehooks.errors import ConfigError
from acehooks.loading import load_endpoint, load_endpoints

VALID_CONFIG = {
    "endpointName": "orders",
    "auth": [{"method": "token", "secretEnv": ["ORDERS_TOKEN"]}],
    "eventIdPath": "id",
    "model": {"email": "customer.email", "total": "$.amount.total"},
    "required": ["email"],
    "actions": [
        {"type": "saveToCloud", "collection": "orders", "documentId": "{eventId}"},
        {"type": "customAction", "name": "notifyShop", "params": {"email": "email"}},
    ],
}

ACTIONS_FILE = '''\
from acehooks import action


@action("notifyShop")
def notify_shop(context):
    return {"notified": context.params.get("email")}
'''


@pytest.fixture
def config() -> dict:
    """Return a fresh copy of one valid endpoint config."""
    return copy.deepcopy(VALID_CONFIG)


def write_config(directory: Path, data, name: str = "orders.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_endpoint(path)
    return str(caught.value)


def split_message(message: str) -> tuple[str, str, str]:
    """Split ``file: field path: what to fix`` into its three parts."""
    file, field, text = message.split(": ", 2)
    return file, field, text


# load_endpoint and load_endpoints


def test_valid_config_loads(tmp_path, config):
    loaded = load_endpoint(write_config(tmp_path, config))

    assert loaded.endpoint_name == "orders"
    assert loaded.secret_names() == ["ORDERS_TOKEN"]


def test_unknown_auth_method(tmp_path, config):
    config["auth"][0]["method"] = "oauth"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "auth[0].method"
    assert "'oauth'" in text
    assert "is not a known value; expected one of 'token', 'hmac'" in text
    assert "'stripe'" in text


def test_unknown_auth_method_names_field(tmp_path, config):
    config["auth"][0]["method"] = "oauth"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert field == "auth[0].method"
    assert text.startswith("'oauth' is not a known value")


def test_bad_model_jsonpath(tmp_path, config):
    config["model"]["email"] = "customer[email"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "model"
    assert text.startswith("model field 'email': JSONPath 'customer[email' does not parse")


def test_required_not_in_model(tmp_path, config):
    config["required"] = ["email", "phone"]
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    # pydantic gives a cross-field check no location, so only the text names the field.
    assert field == "(top level)"
    assert text == "required lists phone, which the model does not define; add them to model"


def test_duplicate_endpoint_names(tmp_path, config):
    first = write_config(tmp_path, config, "a_orders.json")
    second = write_config(tmp_path, config, "b_orders.json")

    with pytest.raises(ConfigError) as caught:
        load_endpoints(tmp_path)

    assert str(caught.value) == (
        f"{second}: endpointName: 'orders' is already used by {first}; each endpoint needs its own name"
    )


def test_every_invalid_file_listed(tmp_path, config):
    good = copy.deepcopy(config)
    config["eventIdPth"] = "id"
    write_config(tmp_path, good, "a_good.json")
    first = write_config(tmp_path, config, "b_typo.json")
    second = write_config(tmp_path, "{", "c_broken.json")

    with pytest.raises(ConfigError) as caught:
        load_endpoints(tmp_path)

    lines = str(caught.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [str(first), str(second)]


def test_missing_config_directory(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_endpoints(tmp_path / "absent")

    assert str(caught.value) == (
        f"{tmp_path / 'absent'}: endpoint config directory not found; create it or set ACEHOOKS_CONFIG_DIR"
    )


def test_unknown_top_level_key(tmp_path, config):
    config["eventIdPth"] = "id"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "eventIdPth"
    assert text == "unknown key; check its spelling against the endpoint config reference"


def test_unknown_auth_key(tmp_path, config):
    config["auth"][0]["secretENV"] = "ORDERS_TOKEN"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "auth[0].secretENV"
    assert text == "unknown key; check its spelling against the endpoint config reference"


def test_invalid_json_position(tmp_path):
    path = write_config(tmp_path, '{\n  "endpointName": "orders",\n  "auth": [\n}\n')

    assert load_error(path) == f"{path}: line 4 column 1: invalid JSON: Expecting value"


def test_top_level_array(tmp_path, config):
    path = write_config(tmp_path, [config])

    assert load_error(path) == f"{path}: (top level): expected a JSON object, found list"


def test_invalid_endpoint_name(tmp_path, config):
    config["endpointName"] = "orders-v2"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "endpointName"
    assert text.startswith("'orders-v2' is not a valid endpoint name; use a letter then letters, digits or '_'")


def test_secret_env_not_variable_name(tmp_path, config):
    config["auth"][0]["secretEnv"] = ["ORDERS_TOKEN", "tok-live-1234"]
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "auth[0].secretEnv"
    assert "is not an environment variable name" in text
    assert text.endswith("name the variable that holds the secret, never the secret itself")


def test_secret_env_value_not_echoed(tmp_path, config):
    config["auth"][0]["secretEnv"] = ["tok-live-1234"]
    path = write_config(tmp_path, config)

    assert "tok-live-1234" not in load_error(path)


def test_unknown_document_id_placeholder(tmp_path, config):
    config["actions"][0]["documentId"] = "{orderId}"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert file == str(path)
    assert field == "(top level)"
    assert text == (
        "actions[0]: placeholder {orderId} in '{orderId}' is neither eventId, eventType, endpoint nor a model field; "
        "add it to model"
    )


def test_unparseable_param_path(tmp_path, config):
    config["actions"][1]["params"]["note"] = "$5 off"
    path = write_config(tmp_path, config)

    file, field, text = split_message(load_error(path))

    assert field == "actions[1].params.note"


def test_model_field_placeholder_accepted(tmp_path, config):
    config["actions"][0]["documentId"] = "{email}-{eventType}"

    loaded = load_endpoint(write_config(tmp_path, config))

    assert loaded.actions[0].document_id == "{email}-{eventType}"


# python -m acehooks validate


@pytest.fixture
def project(tmp_path, config) -> Path:
    """Return a directory holding endpoints/orders.json and actions.py that registers notifyShop."""
    write_config(tmp_path / "endpoints", config)
    (tmp_path / "actions.py").write_text(ACTIONS_FILE)
    return tmp_path


def run_validate(project: Path, **variables: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if key != "ORDERS_TOKEN" and not key.startswith("ACEHOOKS_")}
    environment.update(
        ACEHOOKS_CONFIG_DIR=str(project / "endpoints"),
        ACEHOOKS_ACTIONS_MODULE=str(project / "actions.py"),
        **variables,
    )
    return subprocess.run([sys.executable, "-m", "acehooks", "validate"], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_validate_good_config(project):
    result = run_validate(project, ORDERS_TOKEN="token-value")

    assert result.returncode == 0
    assert result.stdout == "1 endpoint(s) valid: orders\n"
    assert result.stderr == ""


def test_validate_unknown_action(project, config):
    config["actions"][1]["name"] = "notifyShp"
    write_config(project / "endpoints", config)

    result = run_validate(project, ORDERS_TOKEN="token-value")

    assert result.returncode == 1
    assert result.stderr.startswith(
        "endpoint orders: actions[1].name: custom action 'notifyShp' is not registered (registered: notifyShop); "
    )
    assert result.stdout == ""


def test_validate_unknown_action_hint(project, config):
    config["actions"][1]["name"] = "notifyShp"
    write_config(project / "endpoints", config)

    result = run_validate(project, ORDERS_TOKEN="token-value")

    assert "@action('notifyShp')" in result.stderr


def test_validate_missing_secret(project):
    result = run_validate(project)

    assert result.returncode == 1
    assert result.stderr == (
        "endpoint orders: auth[0].secretEnv: none of ORDERS_TOKEN is set to a non-empty value; "
        "set at least one (from Secret Manager in production)\n"
    )


def test_validate_empty_secret(project):
    result = run_validate(project, ORDERS_TOKEN="  ")

    assert result.returncode == 1
    assert "auth[0].secretEnv: none of ORDERS_TOKEN is set" in result.stderr


def test_validate_invalid_config(project, config):
    config["endpointName"] = "orders-v2"
    path = write_config(project / "endpoints", config)

    result = run_validate(project, ORDERS_TOKEN="token-value")

    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}: endpointName: 'orders-v2' is not a valid endpoint name")
