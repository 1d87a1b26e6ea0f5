"""Service definitions: what each OpenStack or infrastructure service runs, as data."""
