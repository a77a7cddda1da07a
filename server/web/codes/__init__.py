"""Personal join codes in bulk for printed slips (service: issue and XLSX; http: endpoints)."""
