"""Stage 4, outbound: what leaves the platform: published marts, alerts, reminders (and the reports to come)."""
