"""Campaigns: batch outbound calling with schedules, pacing, retries and exactly-once dialing
(docs/CAMPAIGNS.md). ``models`` the configuration, ``windows`` time and calling windows,
``contacts`` the streamed import, ``dispatcher`` the tick every instance runs, ``dialing``
one attempt's dial, ``progress`` the counts and results, ``events`` the webhooks."""
