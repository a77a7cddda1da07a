"""Operations on the server host: ``classroom-server <command>`` (see docs/deploy.md)."""
