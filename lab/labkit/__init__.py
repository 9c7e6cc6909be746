"""The lab's services: each module starts, stops and checks one real service."""
