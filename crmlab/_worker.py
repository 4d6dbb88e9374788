"""``python -m crmlab._worker JOB_JSON SUMMARY_JSON PARENT_PID``: one campaign of a batch run.

Started by :func:`crmlab.batch.supervise`; see :func:`crmlab.batch.worker_main`.
"""
import sys

from crmlab.batch import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
