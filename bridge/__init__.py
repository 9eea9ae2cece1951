"""The MQTT → Pub/Sub bridge: the field's telemetry into Google Cloud, at least once.

Modules: ``config`` (settings, file + environment), ``service`` (the bridge itself),
``acks`` (ordered, per-connection acknowledgements), ``attributes`` (what travels with
each message), ``pubsub_client`` (the publisher), ``health`` and ``metrics``
(probes and counters), ``logs`` (JSON log lines), ``sim_publisher`` (publishing
telemetry to a broker, for ``dra-twin simulate --to-mqtt``).
"""
