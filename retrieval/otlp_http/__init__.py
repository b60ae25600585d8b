"""`postmortem receive`: an OTLP/HTTP receiver writing through the file ingest's path (parsers, checks,
redaction, the store's keyword stage in batches, vectors after). `http_server` answers, `payload` decodes a body
(`proto_dict` turns protobuf into the OTLP/JSON dict the readers consume), `intake` parses its records,
`batch_writer` stores them, `replies` encodes the answers."""
