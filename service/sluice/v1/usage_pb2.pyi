import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GroupBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUP_BY_UNSPECIFIED: _ClassVar[GroupBy]
    GROUP_BY_EVENT: _ClassVar[GroupBy]
    GROUP_BY_DAY: _ClassVar[GroupBy]
    GROUP_BY_MONTH: _ClassVar[GroupBy]
    GROUP_BY_QUARTER: _ClassVar[GroupBy]
    GROUP_BY_YEAR: _ClassVar[GroupBy]
GROUP_BY_UNSPECIFIED: GroupBy
GROUP_BY_EVENT: GroupBy
GROUP_BY_DAY: GroupBy
GROUP_BY_MONTH: GroupBy
GROUP_BY_QUARTER: GroupBy
GROUP_BY_YEAR: GroupBy

class MeterFilter(_message.Message):
    __slots__ = ("field", "operator", "text", "number")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    field: str
    operator: str
    text: _containers.RepeatedScalarFieldContainer[str]
    number: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, field: _Optional[str] = ..., operator: _Optional[str] = ..., text: _Optional[_Iterable[str]] = ..., number: _Optional[_Iterable[float]] = ...) -> None: ...

class Meter(_message.Message):
    __slots__ = ("key", "event_name", "operator", "field", "instance_key", "filters")
    KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    key: str
    event_name: str
    operator: str
    field: str
    instance_key: str
    filters: _containers.RepeatedCompositeFieldContainer[MeterFilter]
    def __init__(self, key: _Optional[str] = ..., event_name: _Optional[str] = ..., operator: _Optional[str] = ..., field: _Optional[str] = ..., instance_key: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[MeterFilter, _Mapping]]] = ...) -> None: ...

class QueryUsageRequest(_message.Message):
    __slots__ = ("customer_id", "customer_id_pattern", "start_time", "end_time", "meters", "meter_ids", "group_by", "fill_dates")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_PATTERN_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    METERS_FIELD_NUMBER: _ClassVar[int]
    METER_IDS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FILL_DATES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_id_pattern: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    meters: _containers.RepeatedCompositeFieldContainer[Meter]
    meter_ids: _containers.RepeatedScalarFieldContainer[str]
    group_by: GroupBy
    fill_dates: bool
    def __init__(self, customer_id: _Optional[str] = ..., customer_id_pattern: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., meters: _Optional[_Iterable[_Union[Meter, _Mapping]]] = ..., meter_ids: _Optional[_Iterable[str]] = ..., group_by: _Optional[_Union[GroupBy, str]] = ..., fill_dates: _Optional[bool] = ...) -> None: ...

class DataPoint(_message.Message):
    __slots__ = ("group", "start", "values")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    GROUP_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    group: str
    start: _timestamp_pb2.Timestamp
    values: _containers.ScalarMap[str, float]
    def __init__(self, group: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., values: _Optional[_Mapping[str, float]] = ...) -> None: ...

class QueryUsageResponse(_message.Message):
    __slots__ = ("data_points",)
    DATA_POINTS_FIELD_NUMBER: _ClassVar[int]
    data_points: _containers.RepeatedCompositeFieldContainer[DataPoint]
    def __init__(self, data_points: _Optional[_Iterable[_Union[DataPoint, _Mapping]]] = ...) -> None: ...
