"""回访: outbound survey callbacks after a work order is handled (issue #19)."""
