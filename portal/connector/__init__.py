"""City budget system connector: signed, idempotent pushes, the reference city server, exports."""
