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

Damaged and unfinished bags (``BagReader(path, salvage=True)``, what ``bag_eval`` uses):
a truncated or corrupt storage file is read up to the damage and ``damage`` says where it
was cut (one line naming the file); an mcap without its summary and footer (a recorder
still writing, or killed) is read by scanning its records; a sqlite3 file whose
write-ahead log (``.db3-wal``) is still beside it is read with the log applied, on a
temporary copy. ``notes`` lists what was read around (one line each). Without ``salvage``
every such problem is a BagError, as before.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import tempfile
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
            EOFError, KeyError, IndexError, ValueError, AssertionError, TypeError,
            OverflowError, MemoryError)


class BagReader:
    """A rosbag2 bag (directory with metadata.yaml, or a bare .db3/.mcap file), opened.

    ``topics`` maps topic -> message type; ``start_s`` / ``end_s`` are the first and last
    log times (seconds). Use as a context manager, or call ``close()``.

    ``salvage``: read damaged and unfinished bags as far as they go (module docstring);
    ``damage`` is then '' or one line saying where the bag was cut, ``notes`` what else
    was read around.
    """

    def __init__(self, path, salvage: bool = False):
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        self.salvage = salvage
        self.damage = ''
        self.notes: list[str] = []
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._reader = None
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
            if salvage:
                self.notes.append(f"bag '{self.path}' has no metadata.yaml (still being "
                                  f'written, or the recorder was stopped): read {target.name}')
        storage_file = self._storage_file = _storage_file(target)
        if salvage and storage_file is not None and _has_wal(storage_file):
            target = self._apply_wal(storage_file)
            storage_file = target
        try:
            self._reader = Reader(target)
            self._reader.open()
        except _reader_errors() as exc:
            self._reader = None
            if not (salvage and storage_file is not None):
                raise BagError(f"cannot read bag '{self.path}': {_one_line(exc)}") from None
            self._reader = _SalvageReader.open(storage_file, self.path, exc)
            if self._reader.damage:
                self.damage = self._reader.damage
            else:
                self.notes.append(self._reader.note)
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
        if getattr(self, '_tmp', None) is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def storage(self) -> str:
        if isinstance(self._reader, _SalvageReader):
            return self._reader.storage_name
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
        wanted = sorted({config.streams[n].topic for n in config.stream_names})
        if not any(topic in self.topics for topic in wanted):
            cut = f' (read up to the damage: {self.damage})' if self.damage else ''
            raise BagError(f"bag '{self.path}' has none of the configured topics "
                           f"({', '.join(wanted)}); the bag has: {self.describe_topics()}"
                           f'{cut}')
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
                if self._rescan(exc, last_t):
                    yield from self.messages(topics, deserialize, start_s, stop_s)
                    return
                if not self.salvage:
                    raise BagError(f"bag '{self.path}' is corrupt{where}: "
                                   f'{_one_line(exc)}') from None
                self.damage = (f"bag '{self.path}' is corrupt{where} "
                               f'({self._into(last_t)}): {_one_line(exc)}; the messages '
                               'before it were read, the rest is lost')
                return
            last_t = t_ns * 1e-9
            msgtype = canonical_type(conn.msgtype)
            msg = None
            if deserialize:
                try:
                    msg = self._connection_store[conn.id].deserialize_cdr(raw, conn.msgtype)
                except errors as exc:
                    if self.salvage and self.damage:   # the last rows before the damage
                        self.damage += (f'; the {msgtype} message on {conn.topic} at log time '
                                        f'{last_t:.3f} s does not decode ({_one_line(exc)}): '
                                        'reading stopped there')
                        return
                    raise BagError(f"bag '{self.path}': cannot decode a {msgtype} message "
                                   f"on '{conn.topic}' at log time {last_t:.3f} s: "
                                   f'{_one_line(exc)}') from None
            yield BagMessage(conn.topic, msgtype, last_t, msg, bytes(raw))

    def _rescan(self, exc: BaseException, last_t: float | None) -> bool:
        """Salvage: rosbags' indexed mcap reader reads every chunk it merges before the
        first message, so one bad chunk stops it at once; scan the file in order instead
        (up to the bad chunk). True if it switched."""
        if not (self.salvage and last_t is None and self._storage_file is not None
                and self._storage_file.suffix == '.mcap'
                and not isinstance(self._reader, _SalvageReader)):
            return False
        self._reader.close()
        self._reader = _SalvageReader.open(self._storage_file, self.path, exc)
        self._connection_store.clear()   # the scan numbers connections by channel id
        self.damage = self._reader.damage
        return True

    def _into(self, t_s: float | None) -> str:
        if t_s is None or not self.start_s == self.start_s:   # NaN start: empty bag
            return 'at its start'
        return f'{t_s - self.start_s:.1f} s into the bag'

    def _apply_wal(self, db: Path) -> Path:
        """A copy of ``db`` with its write-ahead log applied (rosbags opens sqlite3 files
        immutable, which ignores the log: the messages only in it would be lost)."""
        wal = Path(f'{db}-wal')
        self._tmp = tempfile.TemporaryDirectory(prefix='bag_wal_')
        copy = Path(self._tmp.name) / db.name
        shutil.copyfile(db, copy)
        shutil.copyfile(wal, Path(f'{copy}-wal'))
        try:
            with sqlite3.connect(copy) as con:   # opening replays the log into the copy
                con.execute('PRAGMA wal_checkpoint(TRUNCATE)')
            sqlite3.connect(copy).close()
        except sqlite3.Error as exc:
            raise BagError(f"bag '{self.path}': cannot apply the write-ahead log "
                           f'{wal.name}: {_one_line(exc)}') from None
        self.notes.append(f"bag '{self.path}': {db.name} has a write-ahead log ({wal.name}, "
                          f'{wal.stat().st_size} bytes; the bag is still being written or was '
                          'not closed): read with the log applied')
        return copy

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


# --- damaged and unfinished storage files ------------------------------------------------------

def _storage_file(target: Path) -> Path | None:
    """The one .mcap/.db3 file of a bag directory or bare file, if there is exactly one."""
    if target.is_file():
        return target if target.suffix in ('.mcap', '.db3') else None
    files = sorted(p for p in target.iterdir() if p.suffix in ('.mcap', '.db3'))
    return files[0] if len(files) == 1 else None


def _has_wal(db: Path) -> bool:
    wal = Path(f'{db}-wal')
    return db.suffix == '.db3' and wal.is_file() and wal.stat().st_size > 0


class _SalvageReader:
    """The readable part of a storage file that rosbags refuses to open, in file order.

    mcap: the records after the header, scanned in file order (no summary or footer
    needed; schemas and channels from rosbags' own scan, chunks decompressed and checked by
    rosbags) until the end of the file or the first damaged record; of a chunk cut short,
    the complete messages before the cut are read (of a zstd or lz4 chunk, those in its
    complete compressed blocks).
    sqlite3: the rows of ``messages`` in insertion order until the first damaged page, read
    from a copy padded to the size its header claims (sqlite refuses a file shorter than
    that). ``damage`` says where reading stopped ('' if at a clean end; then ``note``
    says why the normal reader refused the file). Same interface as rosbags' Reader as far
    as BagReader uses it.
    """

    def __init__(self):
        self.connections: list = []
        self.message_count = 0
        self.start_time = self.end_time = 0
        self.damage = self.note = ''
        self.storage_name = ''
        self.is_open = True
        self._close = []

    @classmethod
    def open(cls, file: Path, bag: Path, refused: BaseException) -> '_SalvageReader':
        reader = cls()
        why = _one_line(refused).rstrip('.')
        try:
            if file.suffix == '.mcap':
                reader._open_mcap(file)
            else:
                reader._open_sqlite(file)
        except _reader_errors() as exc:
            reader.close()
            raise BagError(f"cannot read bag '{bag}': {why} (and nothing could be read "
                           f'from {file.name}: {_one_line(exc)})') from None
        counts: dict[int, int] = {}
        first = last = None
        try:
            for conn, t_ns, _ in reader._scan(None if file.suffix == '.mcap'
                                              else reader.connections):
                counts[conn.id] = counts.get(conn.id, 0) + 1
                first = t_ns if first is None else min(first, t_ns)
                last = t_ns if last is None else max(last, t_ns)
        except _reader_errors() as exc:
            reader.damage = _one_line(exc)
        if file.suffix == '.mcap':
            reader.connections = list(reader._channels.values())
        reader.connections = [c._replace(msgcount=counts.get(c.id, 0))
                              for c in reader.connections]
        reader.message_count = sum(counts.values())
        reader.start_time = first or 0
        reader.end_time = (last + 1) if last is not None else 0
        where = ('no message could be read' if last is None else
                 f'read {reader.message_count} messages up to log time {last * 1e-9:.3f} s '
                 f'({(last - first) * 1e-9:.1f} s into the bag)')
        if reader.damage:
            reader.damage = (f"bag '{bag}' is truncated or corrupt ({file.name}: {why}; "
                             f'reading stopped at: {reader.damage}): {where}, the rest is '
                             'lost')
        else:
            reader.note = (f"bag '{bag}': {file.name} has no index or footer ({why}; still "
                           f'being written, or the recorder was killed): {where} by '
                           'scanning it')
        return reader

    def _open_mcap(self, file: Path) -> None:
        from rosbags.rosbag2 import ReaderError
        from rosbags.rosbag2.storage_mcap import McapReader

        self.storage_name = 'mcap'
        mcap = McapReader(file)
        mcap.bio = file.open('rb')
        self._close.append(mcap.bio.close)
        head = mcap.bio.read(9)
        if head[:8] != b'\x89MCAP0\r\n' or head[8:9] != b'\x01':
            raise ReaderError('not an mcap file (no mcap header)')
        (length,) = struct.unpack('<Q', mcap.bio.read(8))
        mcap.data_start = 17 + length
        mcap.data_end = file.stat().st_size
        self._mcap = mcap
        self._schemas: dict = {}
        self._channels: dict = {}   # id -> Connection, as the scan finds them

    def _mcap_scan(self, ids: set | None):
        """(connection, log time ns, data) of the message records of channels ``ids``
        (None: all), in file order; schemas and channels are collected on the way."""
        from rosbags.rosbag2 import ReaderError
        from rosbags.rosbag2.storage_mcap import decompress

        f, end = self._mcap.bio, self._mcap.data_end
        f.seek(self._mcap.data_start)
        while f.tell() < end:
            pos = f.tell()
            head = f.read(9)
            if len(head) < 9:
                raise ReaderError(f'record header at byte {pos} cut short')
            op, length = head[0], struct.unpack('<Q', head[1:])[0]
            body = f.read(length)
            short = len(body) < length
            if op == 0x02:        # footer: the end
                return
            if op == 0x05:
                if short:
                    raise ReaderError(f'message record at byte {pos} cut short')
                yield from self._mcap_messages([(op, body)], ids)
            elif op == 0x06:      # chunk
                start_t, end_t, size, crc = struct.unpack_from('<QQQI', body, 0)
                (n,) = struct.unpack_from('<I', body, 28)
                compression = body[32:32 + n].decode()
                (records_len,) = struct.unpack_from('<Q', body, 32 + n)
                records = body[40 + n:40 + n + records_len]
                if short:
                    # the records before the cut: as they are, or what the compressed
                    # stream still decodes (zstd / lz4 frames decode block by block)
                    data = _decompress_prefix(records, compression) if compression else records
                    yield from self._mcap_messages(_mcap_records(data, True), ids)
                    raise ReaderError(
                        f'chunk at byte {pos} cut short ({len(body)} of {length} bytes); its '
                        'complete messages were read'
                        + (f' (of its {compression} data, the blocks before the cut)'
                           if compression else ''))
                data = decompress(records, compression, size, crc)
                try:
                    yield from self._mcap_messages(_mcap_records(data), ids)
                except ReaderError as exc:
                    raise ReaderError(f'chunk at byte {pos}: {exc}') from None
            elif short:
                raise ReaderError(f'record 0x{op:02x} at byte {pos} cut short')
            else:
                self._mcap_definition(op, body)

    def _mcap_messages(self, records, ids: set | None):
        for op, body in records:
            if op == 0x05 and len(body) >= 22:
                channel, _, log_time, _ = struct.unpack_from('<HIQQ', body, 0)
                if channel in self._channels and (ids is None or channel in ids):
                    yield self._channels[channel], log_time, body[22:]
            else:
                self._mcap_definition(op, body)

    def _mcap_definition(self, op: int, body: bytes) -> None:
        """Schema (0x03) and channel (0x04) records -> connections, as rosbags builds them."""
        from io import BytesIO

        from rosbags.interfaces import Connection, ConnectionExtRosbag2
        from rosbags.rosbag2.storage_mcap import (Schema, get_msgdef, get_qos, read_bytes,
                                                  read_string)
        rec = BytesIO(body)
        if op == 0x03:
            (key,) = struct.unpack('<H', rec.read(2))
            self._schemas[key] = Schema(key, read_string(rec), read_string(rec),
                                        read_string(rec))
        elif op == 0x04:
            key, schema_id = struct.unpack('<HH', rec.read(4))
            topic, encoding = read_string(rec), read_string(rec)
            schema = self._schemas.get(schema_id)
            self._channels.setdefault(key, Connection(
                key, topic, schema.name if schema else '__schemaless__', get_msgdef(schema),
                '', 0, ConnectionExtRosbag2(encoding, get_qos(read_bytes(rec))), self))

    def _open_sqlite(self, file: Path) -> None:
        from rosbags.interfaces import (Connection, ConnectionExtRosbag2, MessageDefinition,
                                        MessageDefinitionFormat)

        self.storage_name = 'sqlite3'
        head = file.open('rb').read(100)
        if len(head) < 100 or not head.startswith(b'SQLite format 3\x00'):
            raise sqlite3.DatabaseError('not an sqlite3 file')
        page_size = struct.unpack('>H', head[16:18])[0]
        page_size = 65536 if page_size == 1 else page_size
        claimed = struct.unpack('>I', head[28:32])[0] * page_size
        tmp = tempfile.TemporaryDirectory(prefix='bag_salvage_')
        self._close.append(tmp.cleanup)
        copy = Path(tmp.name) / file.name
        shutil.copyfile(file, copy)
        missing = claimed - copy.stat().st_size
        if missing > 0:
            with open(copy, 'ab') as f:
                f.truncate(claimed)   # zeros where the file was cut: read as damaged pages
        db = sqlite3.connect(f'file:{copy}?immutable=1', uri=True)
        self._close.append(db.close)
        self._db = db
        formats = {'ros2msg': MessageDefinitionFormat.MSG, 'ros2idl': MessageDefinitionFormat.IDL}
        defs = {}
        try:
            for name, encoding, text in db.execute(
                    'SELECT topic_type, encoding, encoded_message_definition '
                    'FROM message_definitions'):
                defs[name] = MessageDefinition(formats.get(encoding,
                                                           MessageDefinitionFormat.NONE), text)
        except sqlite3.Error:
            pass   # older schema, or a damaged page: types come from the type stores
        none = MessageDefinition(MessageDefinitionFormat.NONE, '')
        self.connections = [
            Connection(cid, topic, msgtype, defs.get(msgtype, none), '', 0,
                       ConnectionExtRosbag2('cdr', []), self)
            for cid, topic, msgtype in db.execute('SELECT id, name, type FROM topics')]

    def _scan(self, connections):
        if self.storage_name == 'mcap':
            yield from self._mcap_scan(None if connections is None
                                       else {c.id for c in connections})
            return
        ids = {c.id: c for c in connections}
        for cid, t_ns, raw in self._db.execute(
                'SELECT topic_id, timestamp, data FROM messages ORDER BY id'):
            if cid in ids:
                yield ids[cid], t_ns, raw

    def messages(self, connections, start=None, stop=None):
        """Like rosbags' ``Reader.messages``; stops quietly at the damage (known already)."""
        try:
            for conn, t_ns, raw in self._scan(connections):
                if (start is None or t_ns >= start) and (stop is None or t_ns < stop):
                    yield conn, t_ns, raw
        except _reader_errors():
            return

    def close(self) -> None:
        self.is_open = False
        for close in reversed(self._close):
            close()
        self._close = []


def _decompress_prefix(data: bytes, compression: str) -> bytes:
    """What a cut compressed mcap chunk still yields: zstd and lz4 frames are decoded block
    by block, so the bytes of every complete block before the cut (b'' when even the first
    block is incomplete, or the data is not of that format)."""
    try:
        if compression == 'zstd':
            try:
                from compression import zstd        # Python >= 3.14
            except ImportError:
                from backports import zstd          # rosbags' dependency before 3.14
            return zstd.ZstdDecompressor().decompress(data)
        if compression == 'lz4':
            import lz4.frame
            return lz4.frame.LZ4FrameDecompressor().decompress(data)
    except Exception:   # noqa: BLE001 -- a damaged stream yields nothing, never a crash
        return b''
    return b''


def _mcap_records(data: bytes, partial: bool = False):
    """(opcode, body) of the mcap records in ``data`` (a chunk's records). ``partial``: the
    data was cut, stop quietly after the last complete record; else records that do not
    fill ``data`` exactly are damage (ReaderError)."""
    from rosbags.rosbag2 import ReaderError

    pos = 0
    while pos + 9 <= len(data):
        op, length = data[pos], struct.unpack_from('<Q', data, pos + 1)[0]
        if pos + 9 + length > len(data):
            break
        yield op, data[pos + 9:pos + 9 + length]
        pos += 9 + length
    if pos != len(data) and not partial:
        raise ReaderError(f'damaged record at byte {pos} of a chunk of {len(data)} bytes')


def write_bag(path, topics: dict[str, str], messages: Iterable[tuple[str, float, Any]],
              storage: str = 'mcap', typestore=None, compressed: bool = False) -> Path:
    """Write a rosbag2 bag (``storage``: 'mcap' or 'sqlite3') with ``rosbags``.

    ``topics``: topic -> type string; ``messages``: ``(topic, log_time_s, msg)`` where
    ``msg`` is a message of ``typestore`` (default: Kilted), or already-serialised CDR bytes.
    ``compressed``: zstd-compressed mcap chunks (rosbag2's storage compression; mcap only).
    Returns the bag path (a directory). The path must not exist.
    """
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
    if compressed and storage != 'mcap':
        raise ValueError(f'compressed bags are mcap only, got storage {storage!r}')
    ts = typestore or get_typestore(Stores.ROS2_KILTED)
    path = Path(path)
    writer = Writer(path, version=9, storage_plugin=plugins[storage])
    if compressed:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
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
