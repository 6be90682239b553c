"""Avro schemas of wirewatch's records and the one module that builds and reads them."""
