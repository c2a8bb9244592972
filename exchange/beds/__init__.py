"""beds"""
