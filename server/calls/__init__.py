"""The life of a call, browser or phone: one package, one module per step.

``admission`` (plan, instance and organization limits, the row) → ``setup`` (the pipeline's
spec from the pinned workflow and the organization's providers) → ``session`` (run on a
transport, write records, finalize) with ``records`` (the batched writer), ``commands`` (what
reaches a live call over the control bus, and the one dispatcher), ``live`` (what this
instance carries), ``webrtc`` (browser calls) and ``phone/`` (carrier webhooks, media
streams, outbound dialing, status callbacks). Routes only parse, authenticate and delegate.

Import the submodules directly: this package imports nothing, so the control bus and the
settings can use ``commands`` and ``live`` without loading the pipeline.
"""
