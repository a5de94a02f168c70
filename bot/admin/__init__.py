"""The 市民活動センター's web console (``/admin/``)."""
