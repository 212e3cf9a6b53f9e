"""Config errors of the auth presets, as ``acehooks validate`` and the functions report them."""

import json
from pathlib import Path

import pytest

from acehooks.errors import ConfigError
from acehooks.loading import load_endpoint

PRESETS = {
    "github": {"method": "github", "secretEnv": "GITHUB_SECRET"},
    "shopify": {"method": "shopify", "secretEnv": "SHOPIFY_SECRET"},
    "slack": {"method": "slack", "secretEnv": "SLACK_SECRET"},
    "twilio": {"method": "twilio", "secretEnv": "TWILIO_TOKEN", "publicUrl": "https://hooks.example.com/sms"},
    "standardWebhooks": {"method": "standardWebhooks", "secretEnv": "WEBHOOK_SECRET"},
    "svix": {"method": "svix", "secretEnv": "WEBHOOK_SECRET"},
    "square": {"method": "square", "secretEnv": "SQUARE_KEY", "publicUrl": "https://hooks.example.com/square"},
    "sendgrid": {"method": "sendgrid", "secretEnv": "SENDGRID_KEY"},
    "ipAllowlist": {"method": "ipAllowlist", "cidrs": ["203.0.113.0/24"]},
}
TIMESTAMPED = ["slack", "standardWebhooks", "svix", "sendgrid", "stripe"]


def write_endpoint(directory: Path, auth: list[dict]) -> Path:
    path = directory / "hooks.json"
    path.write_text(json.dumps({"endpointName": "hooks", "auth": auth}))
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_endpoint(path)
    return str(caught.value)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_loads(tmp_path, name):
    config = load_endpoint(write_endpoint(tmp_path, [PRESETS[name]]))

    assert config.auth[0].method == name


def test_all_presets_combine(tmp_path):
    config = load_endpoint(write_endpoint(tmp_path, list(PRESETS.values())))

    assert [method.method for method in config.auth] == list(PRESETS)


@pytest.mark.parametrize("name", TIMESTAMPED)
def test_zero_tolerance_rejected(tmp_path, name):
    auth = {**PRESETS.get(name, {"method": name, "secretEnv": "STRIPE_SECRET"}), "toleranceSeconds": 0}

    message = load_error(write_endpoint(tmp_path, [auth]))

    assert message == f"{tmp_path / 'hooks.json'}: auth[0].toleranceSeconds: Input should be greater than 0"


@pytest.mark.parametrize("name, console", [("twilio", "the webhook URL in the Twilio Console"),
                                           ("square", "the subscription's notification URL in Square")])
def test_missing_public_url_names_field_and_fix(tmp_path, name, console):
    auth = {key: value for key, value in PRESETS[name].items() if key != "publicUrl"}

    message = load_error(write_endpoint(tmp_path, [auth]))

    assert message.startswith(f"{tmp_path / 'hooks.json'}: auth[0]: publicUrl is required for {name}: ")
    assert f"set it to the URL entered as {console}" in message
    assert "internal URL" in message


def test_twilio_public_url_with_query_rejected(tmp_path):
    auth = {**PRESETS["twilio"], "publicUrl": "https://hooks.example.com/sms?tenant=acme"}

    message = load_error(write_endpoint(tmp_path, [auth]))

    assert "auth[0]: publicUrl 'https://hooks.example.com/sms?tenant=acme' must not contain a query string" in message


def test_relative_public_url_rejected(tmp_path):
    message = load_error(write_endpoint(tmp_path, [{**PRESETS["square"], "publicUrl": "/square"}]))

    assert "auth[0]: publicUrl '/square' must be an absolute URL" in message


def test_bad_cidr_names_field(tmp_path):
    message = load_error(write_endpoint(tmp_path, [{"method": "ipAllowlist", "cidrs": ["10.0.0.1/8"]}]))

    assert message.startswith(f"{tmp_path / 'hooks.json'}: auth[0].cidrs: '10.0.0.1/8' is not a CIDR block")


def test_secret_in_place_of_variable_rejected(tmp_path):
    message = load_error(write_endpoint(tmp_path, [{"method": "github", "secretEnv": "s3cr3t value!"}]))

    assert "auth[0].secretEnv: entry 0 is not an environment variable name" in message
    assert "s3cr3t" not in message


def test_signing_key_env_value_not_echoed(tmp_path):
    auth = {**PRESETS["sendgrid"], "signingKeyEnv": "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG"}

    message = load_error(write_endpoint(tmp_path, [auth]))

    assert "auth[0].signingKeyEnv: signingKeyEnv is not an environment variable name" in message
    assert "MIGHAgEA" not in message


def test_unknown_preset_key_rejected(tmp_path):
    message = load_error(write_endpoint(tmp_path, [{**PRESETS["github"], "allowSHA1": True}]))

    assert "auth[0].allowSHA1: unknown key" in message
