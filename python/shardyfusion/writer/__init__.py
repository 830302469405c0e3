"""Writers: ``shardyfusion.writer.python`` (iterables of records), ``shardyfusion.writer.spark``."""
