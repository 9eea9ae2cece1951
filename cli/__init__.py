"""The ``dra-twin`` command line."""
