import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RejectedEvent(_message.Message):
    __slots__ = ("at", "request_id", "source", "name", "reason", "field", "message", "event")
    AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    request_id: str
    source: str
    name: str
    reason: str
    field: str
    message: str
    event: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., source: _Optional[str] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ..., field: _Optional[str] = ..., message: _Optional[str] = ..., event: _Optional[str] = ...) -> None: ...

class ListRejectionsRequest(_message.Message):
    __slots__ = ("source", "name", "reason", "since", "cursor", "limit")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    source: str
    name: str
    reason: str
    since: _timestamp_pb2.Timestamp
    cursor: str
    limit: int
    def __init__(self, source: _Optional[str] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class RejectionCount(_message.Message):
    __slots__ = ("source", "reason", "count")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    source: str
    reason: str
    count: int
    def __init__(self, source: _Optional[str] = ..., reason: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ListRejectionsResponse(_message.Message):
    __slots__ = ("rejections", "next_cursor", "counts")
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    rejections: _containers.RepeatedCompositeFieldContainer[RejectedEvent]
    next_cursor: str
    counts: _containers.RepeatedCompositeFieldContainer[RejectionCount]
    def __init__(self, rejections: _Optional[_Iterable[_Union[RejectedEvent, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., counts: _Optional[_Iterable[_Union[RejectionCount, _Mapping]]] = ...) -> None: ...
