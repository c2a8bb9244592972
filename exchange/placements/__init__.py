"""Placements: requests, matching runs, offers that hold beds, decisions."""
