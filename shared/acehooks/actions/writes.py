"""One interface over a Firestore batch or transaction, so an action's writes and its record commit together."""


class BatchWrites:
    """Writes collected in a batch; reads go straight to Firestore."""

    def __init__(self, db):
        self.db = db
        self.batch = db.batch()

    def read(self, ref):
        return ref.get()

    def set(self, ref, data, merge=False):
        self.batch.set(ref, data, merge=merge)

    def create(self, ref, data):
        self.batch.create(ref, data)

    def update(self, ref, data):
        self.batch.update(ref, data)

    def delete(self, ref):
        self.batch.delete(ref)

    def commit(self):
        self.batch.commit()


class TransactionWrites(BatchWrites):
    """Writes and reads inside a transaction (``transaction.get`` before any write).

    NOTE: the local emulator does not isolate transactions, so a concurrent
    writer can slip between the read and the commit there; Firestore retries
    the transaction instead.
    """

    def __init__(self, db, transaction):
        self.db = db
        self.batch = transaction
        self.transaction = transaction

    def read(self, ref):
        return ref.get(transaction=self.transaction)

    def commit(self):
        # The transactional decorator commits when the function returns.
        pass
