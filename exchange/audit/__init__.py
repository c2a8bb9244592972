"""The audit log: who touched a request, an offer or an address, hash-chained."""
