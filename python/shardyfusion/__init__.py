"""shardyfusion"""
