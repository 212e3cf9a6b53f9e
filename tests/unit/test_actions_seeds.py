"""Seed files: what read_seeds rejects, and how load_seeds writes them."""

import json
from pathlib import Path

import pytest

from acehooks.errors import ConfigError
from acehooks.seeds import BATCH_SIZE, load_seeds, read_seeds

ROOT = Path(__file__).resolve().parents[2]


class FakeBatch:
    def __init__(self, db):
        self.db = db
        self.writes = []

    def set(self, ref, data):
        self.writes.append((ref, data))

    def commit(self):
        self.db.commits.append(self.writes)


class FakeDb:
    """Records the batches load_seeds commits; a document reference is its path."""

    def __init__(self):
        self.commits = []

    def batch(self):
        return FakeBatch(self)

    def document(self, path):
        return path


def write(tmp_path, data) -> Path:
    path = tmp_path / "seeds.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_repository_seeds_are_valid():
    seeds = read_seeds(ROOT / "emulator_data" / "seeds.json")

    assert "products/SKU-1001" in seeds
    assert all(path.startswith("products/") for path in seeds)
    assert all(isinstance(fields["quantity"], int) for fields in seeds.values())


def test_load_writes_each_document(tmp_path):
    path = write(tmp_path, {"products/A": {"quantity": 1}, "users/u1/orders/o1": {"total": 2}})
    db = FakeDb()

    assert load_seeds(db, path) == ["products/A", "users/u1/orders/o1"]
    assert db.commits == [[("products/A", {"quantity": 1}), ("users/u1/orders/o1", {"total": 2})]]


def test_load_splits_batches(tmp_path):
    path = write(tmp_path, {f"products/p{index}": {"n": index} for index in range(BATCH_SIZE + 1)})
    db = FakeDb()

    load_seeds(db, path)

    assert [len(batch) for batch in db.commits] == [BATCH_SIZE, 1]


@pytest.mark.parametrize("data, message", [
    ("[1]", "expected a JSON object of document path to fields, found list"),
    ('{"products": {}}', "'products' is not a document path; write 'collection/documentId'"),
    ('{"products//x": {}}', "'products//x' is not a document path"),
    ('{"products/a": 3}', "'products/a': expected an object of fields, found int"),
    ("{", "line 1 column 2: invalid JSON"),
])
def test_malformed_seeds_rejected(tmp_path, data, message):
    path = write(tmp_path, data)
    db = FakeDb()

    with pytest.raises(ConfigError) as caught:
        load_seeds(db, path)

    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert db.commits == []


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ConfigError, match="seeds.json: cannot be read: No such file or directory"):
        read_seeds(tmp_path / "seeds.json")
