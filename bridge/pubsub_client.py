"""The bridge's Pub/Sub publisher: batching, flow control and retries from the config.

Production uses Application Default Credentials (the VM's or pod's service account,
which needs only ``roles/pubsub.publisher`` on the two topics: Terraform owns the
topics, so the bridge never creates one). Locally ``emulator_host`` (or the usual
``PUBSUB_EMULATOR_HOST``) points it at the emulator over plain gRPC.
"""

from __future__ import annotations

import os

import grpc
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth.credentials import AnonymousCredentials
from google.cloud.pubsub_v1 import PublisherClient
from google.cloud.pubsub_v1.types import (
    BatchSettings,
    LimitExceededBehavior,
    PublisherOptions,
    PublishFlowControl,
)
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport

from bridge.config import BridgeConfig

__all__ = ["TRANSIENT_ERRORS", "make_publisher"]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    gexc.Aborted,
    gexc.Cancelled,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.Unknown,
)
"""Retried inside one publish call; anything else fails the call and the bridge
re-queues the message itself (or dead-letters it, for ``InvalidArgument``)."""


def make_publisher(config: BridgeConfig) -> PublisherClient:
    """A publisher whose in-flight limits match the bridge's, so the two never disagree."""
    ps = config.pubsub
    retry = Retry(
        predicate=if_exception_type(*TRANSIENT_ERRORS),
        initial=ps.retry_initial_s,
        maximum=ps.retry_max_s,
        multiplier=2.0,
        timeout=ps.publish_timeout_s,
    )
    options = PublisherOptions(
        enable_message_ordering=ps.ordering_by_skid,
        flow_control=PublishFlowControl(
            message_limit=config.max_in_flight,
            byte_limit=config.max_in_flight_bytes,
            limit_exceeded_behavior=LimitExceededBehavior.BLOCK,
        ),
        retry=retry,
        timeout=ps.publish_timeout_s,
    )
    batch = BatchSettings(
        max_bytes=ps.batch_max_bytes,
        max_latency=ps.batch_max_latency_s,
        max_messages=ps.batch_max_messages,
    )
    emulator_host = ps.emulator_host or os.environ.get("PUBSUB_EMULATOR_HOST")
    if emulator_host:
        transport = PublisherGrpcTransport(
            channel=grpc.insecure_channel(emulator_host), credentials=AnonymousCredentials()
        )
        return PublisherClient(batch_settings=batch, publisher_options=options, transport=transport)
    return PublisherClient(batch_settings=batch, publisher_options=options)
