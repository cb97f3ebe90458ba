"""Follow-up plays: configuration, planning, rendering, delivery and the unsubscribe link."""
