"""The audit trail, read (service: the filtered queries; http: the endpoints)."""
