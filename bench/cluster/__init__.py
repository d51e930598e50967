"""bench.cluster: N gateway nodes behind Kamailio's dispatcher on one PostgreSQL, one
node SIGKILLed under load and restarted (``python -m bench.cluster``)."""
