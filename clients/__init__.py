"""Clients of the exchange"""
