"""Bag I/O shared by ``bag_eval``, ``bag_replay`` and the demo: rosbag2 without rosbag2.

Reads and writes rosbag2 bags (sqlite3 ``.db3`` and ``.mcap`` storage) with the pure-Python
``rosbags`` library, so neither a ROS install nor rclpy is needed to evaluate a bag.

    with BagReader('demo_out/demo_bag') as bag:
        bag.check_streams(config)                      # clear errors before any work
        for m in bag.messages(['/imu/data']):          # log-time order
            m.topic, m.msgtype, m.log_time_s, m.msg, m.raw

Message types are resolved per connection: from the definition the recorder embedded in
the bag when there is one (so custom types and older distributions' definitions decode as
they were recorded), else from the ``rosbags`` type store of ROS 2 Kilted, then Jazzy and
Humble. Every problem with a bag raises :class:`BagError` with a one-line message that
names the bag, topic or type.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ['BagError', 'BagMessage', 'BagReader', 'canonical_type', 'stamp_fields',
           'write_bag']

# Type stores tried, in order, for connections without an embedded definition.
_FALLBACK_STORES = ('ROS2_KILTED', 'ROS2_JAZZY', 'ROS2_HUMBLE')


class BagError(ValueError):
    """A bag cannot be used: missing, corrupt, lacking a topic, or with the wrong type."""


@dataclass(frozen=True)
class BagMessage:
    """One message of a bag. ``log_time_s``: when the recorder received it (seconds)."""

    topic: str
    msgtype: str          # e.g. 'sensor_msgs/msg/Imu'
    log_time_s: float
    msg: Any              # rosbags dataclass (None when not deserialised)
    raw: bytes            # CDR bytes exactly as rclpy serialises them


def canonical_type(type_str: str) -> str:
    """``'sensor_msgs/Imu'`` and ``'sensor_msgs/msg/Imu'`` -> ``'sensor_msgs/msg/Imu'``."""
    parts = type_str.strip().split('/')
    return f'{parts[0]}/msg/{parts[1]}' if len(parts) == 2 else type_str.strip()


def _reader_errors() -> tuple[type[BaseException], ...]:
    from rosbags.rosbag2 import ReaderError
    from rosbags.serde import SerdeError
    from rosbags.typesys import TypesysError
    # What a damaged file can raise inside rosbags and the storage libraries it uses.
    return (ReaderError, SerdeError, TypesysError, sqlite3.Error, struct.error, OSError,
            EOFError, KeyError, IndexError, ValueError, AssertionError, TypeError)


class BagReader:
    """A rosbag2 bag (directory with metadata.yaml, or a bare .db3/.mcap file), opened.

    ``topics`` maps topic -> message type; ``start_s`` / ``end_s`` are the first and last
    log times (seconds). Use as a context manager, or call ``close()``.
    """

    def __init__(self, path):
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag '{self.path}' does not exist")
        target = self.path
        if target.is_dir() and not (target / 'metadata.yaml').exists():
            # A recording without metadata.yaml (e.g. interrupted): read its one storage file.
            files = sorted(p for p in target.iterdir() if p.suffix in ('.mcap', '.db3'))
            if len(files) != 1:
                raise BagError(f"bag '{self.path}' has no metadata.yaml and "
                               f'{len(files)} .mcap/.db3 files; expected a rosbag2 bag')
            target = files[0]
        try:
            self._reader = Reader(target)
            self._reader.open()
        except _reader_errors() as exc:
            raise BagError(f"cannot read bag '{self.path}': {_one_line(exc)}") from None
        self._stores: dict[str, Any] = {}     # msgdef text / store name -> Typestore
        self._connection_store: dict[int, Any] = {}
        self.topics: dict[str, str] = {}
        self.message_counts: dict[str, int] = {}
        for conn in self._reader.connections:
            self.topics.setdefault(conn.topic, canonical_type(conn.msgtype))
            self.message_counts[conn.topic] = (self.message_counts.get(conn.topic, 0)
                                               + int(conn.msgcount))
        if self._reader.message_count:
            self.start_s = self._reader.start_time * 1e-9
            self.end_s = (self._reader.end_time - 1) * 1e-9
        else:
            self.start_s = self.end_s = float('nan')

    def __enter__(self) -> 'BagReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, '_reader', None) is not None and self._reader.is_open:
            self._reader.close()

    @property
    def storage(self) -> str:
        name = type(self._reader.storage).__name__.lower()
        if 'mcap' in name:
            return 'mcap'
        if 'sqlite' in name:
            return 'sqlite3'
        storages = getattr(self._reader.storage, 'storages', [])
        return ('mcap' if storages and 'mcap' in type(storages[0]).__name__.lower()
                else 'sqlite3')

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def message_count(self) -> int:
        return int(self._reader.message_count)

    def describe_topics(self) -> str:
        """``'/a [pkg/msg/A], /b [pkg/msg/B]'`` for error messages."""
        return ', '.join(f'{t} [{ty}]' for t, ty in sorted(self.topics.items())) or '(none)'

    def check_topic(self, topic: str, expected_type: str | None = None,
                    what: str = '') -> None:
        """Raise BagError unless ``topic`` is in the bag (with ``expected_type``)."""
        label = f' ({what})' if what else ''
        if topic not in self.topics:
            raise BagError(f"topic '{topic}'{label} is not in bag '{self.path}'; "
                           f'the bag has: {self.describe_topics()}')
        if expected_type is not None and \
                canonical_type(expected_type) != self.topics[topic]:
            raise BagError(f"topic '{topic}'{label}: expected type "
                           f"{canonical_type(expected_type)}, but the bag has "
                           f'{self.topics[topic]}')

    def check_streams(self, config) -> None:
        """Every stream of a PipelineConfig must have its topic, with its type, in the bag."""
        for name in config.stream_names:
            spec = config.streams[name]
            self.check_topic(spec.topic, spec.type, f"stream '{name}'")

    def messages(self, topics: Iterable[str] | None = None, deserialize: bool = True,
                 start_s: float | None = None, stop_s: float | None = None
                 ) -> Iterator[BagMessage]:
        """Messages of ``topics`` (default all) in log-time order, optionally within
        ``[start_s, stop_s)`` (seconds, log time)."""
        wanted = None if topics is None else set(topics)
        if wanted is not None:
            for topic in sorted(wanted):
                self.check_topic(topic)
        conns = [c for c in self._reader.connections
                 if wanted is None or c.topic in wanted]
        if not conns:
            return
        if deserialize:
            for conn in conns:
                self._store_for(conn)
        start = None if start_s is None else int(round(start_s * 1e9))
        stop = None if stop_s is None else int(round(stop_s * 1e9))
        errors = _reader_errors()
        iterator = self._reader.messages(connections=conns, start=start, stop=stop)
        last_t = None
        while True:
            try:
                conn, t_ns, raw = next(iterator)
            except StopIteration:
                return
            except errors as exc:
                where = '' if last_t is None else f' after log time {last_t:.3f} s'
                raise BagError(f"bag '{self.path}' is corrupt{where}: "
                               f'{_one_line(exc)}') from None
            last_t = t_ns * 1e-9
            msgtype = canonical_type(conn.msgtype)
            msg = None
            if deserialize:
                try:
                    msg = self._connection_store[conn.id].deserialize_cdr(raw, conn.msgtype)
                except errors as exc:
                    raise BagError(f"bag '{self.path}': cannot decode a {msgtype} message "
                                   f"on '{conn.topic}' at log time {last_t:.3f} s: "
                                   f'{_one_line(exc)}') from None
            yield BagMessage(conn.topic, msgtype, last_t, msg, bytes(raw))

    def _store_for(self, conn):
        """The type store that decodes ``conn``: its embedded definition, else Kilted..."""
        if conn.id in self._connection_store:
            return self._connection_store[conn.id]
        from rosbags.interfaces import MessageDefinitionFormat
        from rosbags.typesys import Stores, get_typestore, get_types_from_idl, \
            get_types_from_msg

        store, bad_definition = None, ''
        msgdef = conn.msgdef
        if msgdef.format != MessageDefinitionFormat.NONE and msgdef.data.strip():
            key = f'{conn.msgtype}\n{msgdef.data}'
            store = self._stores.get(key)
            if store is None:
                try:
                    if msgdef.format == MessageDefinitionFormat.MSG:
                        types = get_types_from_msg(msgdef.data, conn.msgtype)
                    else:
                        types = {}
                        sep = '=' * 80 + '\n'
                        parts = (msgdef.data.split(sep)[1:]
                                 if msgdef.data.startswith(sep + 'IDL: ') else
                                 [f'IDL: x\n{msgdef.data}'])
                        for part in parts:
                            types.update(get_types_from_idl(part.split('\n', 1)[1]))
                    store = get_typestore(Stores.EMPTY)
                    store.register(types)
                    store.get_msgdef(conn.msgtype)
                except _reader_errors() as exc:
                    store = None
                    bad_definition = _one_line(exc)
                else:
                    self._stores[key] = store
        if store is None:
            for name in _FALLBACK_STORES:
                candidate = self._stores.get(name)
                if candidate is None:
                    candidate = self._stores[name] = get_typestore(getattr(Stores, name))
                if conn.msgtype in candidate.fielddefs:
                    store = candidate
                    break
        if store is None:
            why = (f'its embedded definition does not parse ({bad_definition})'
                   if bad_definition else 'the bag has no definition for it')
            raise BagError(f"bag '{self.path}': topic '{conn.topic}' has type "
                           f'{conn.msgtype}, which is not a known ROS 2 type and {why}')
        self._connection_store[conn.id] = store
        return store


def write_bag(path, topics: dict[str, str], messages: Iterable[tuple[str, float, Any]],
              storage: str = 'mcap', typestore=None) -> Path:
    """Write a rosbag2 bag (``storage``: 'mcap' or 'sqlite3') with ``rosbags``.

    ``topics``: topic -> type string; ``messages``: ``(topic, log_time_s, msg)`` where
    ``msg`` is a message of ``typestore`` (default: Kilted), or already-serialised CDR bytes.
    Returns the bag path (a directory). The path must not exist.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
    ts = typestore or get_typestore(Stores.ROS2_KILTED)
    path = Path(path)
    with Writer(path, version=9, storage_plugin=plugins[storage]) as writer:
        conns = {topic: writer.add_connection(topic, canonical_type(t), typestore=ts)
                 for topic, t in topics.items()}
        for topic, t_s, msg in messages:
            conn = conns[topic]
            raw = msg if isinstance(msg, (bytes, bytearray, memoryview)) \
                else ts.serialize_cdr(msg, conn.msgtype)
            writer.write(conn, int(round(t_s * 1e9)), raw)
    return path


def _one_line(exc: BaseException) -> str:
    text = ' '.join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + '...'


def stamp_fields(t_s: float) -> dict[str, int]:
    """``{'sec': ..., 'nanosec': ...}`` of a time in seconds (rounded to the nanosecond)."""
    ns = int(round(t_s * 1e9))
    return {'sec': ns // 1_000_000_000, 'nanosec': ns % 1_000_000_000}
