"""One interface over a Firestore batch or transaction, so an action's writes and its record commit together.

Writes are buffered and handed to Firestore at commit, with the guard write
(``create_first``) ahead of the others. Firestore commits a batch all or
nothing. The local emulator keeps the writes that come before a failing one,
so putting the create-if-absent guard first makes a losing worker's writes
fail there too.
"""


class BatchWrites:
    """Writes collected for one batch; reads go straight to Firestore."""

    def __init__(self, db):
        self.db = db
        self.operations: list[tuple[str, tuple, dict]] = []

    def read(self, ref):
        return ref.get()

    def set(self, ref, data, merge=False):
        self.operations.append(("set", (ref, data), {"merge": merge}))

    def create(self, ref, data):
        self.operations.append(("create", (ref, data), {}))

    def create_first(self, ref, data):
        """Add a create that commits ahead of every other write, whatever the order of the calls."""
        self.operations.insert(0, ("create", (ref, data), {}))

    def update(self, ref, data):
        self.operations.append(("update", (ref, data), {}))

    def delete(self, ref):
        self.operations.append(("delete", (ref,), {}))

    def _apply(self, target) -> None:
        for name, args, kwargs in self.operations:
            getattr(target, name)(*args, **kwargs)

    def commit(self):
        batch = self.db.batch()
        self._apply(batch)
        batch.commit()


class TransactionWrites(BatchWrites):
    """Writes and reads inside a transaction (reads happen before any write reaches it).

    NOTE: the local emulator does not isolate transactions, so a concurrent
    writer can slip between the read and the commit there; Firestore retries
    the transaction instead.
    """

    def __init__(self, db, transaction):
        super().__init__(db)
        self.transaction = transaction

    def read(self, ref):
        return ref.get(transaction=self.transaction)

    def commit(self):
        # The writes join the transaction here; the transactional decorator commits it on return.
        self._apply(self.transaction)
