"""Looks at a moto S3 server for the upload tests (boto3 comes with moto[server]).

usage: s3_client.py ENDPOINT COMMAND ARGS...; prints JSON.
  create-bucket B | put B KEY TEXT SHA256META | keys B | object B KEY | tagging B KEY | open-uploads B
"""
import hashlib
import json
import sys

import boto3

endpoint, command, *args = sys.argv[1:]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
if command == "create-bucket":
    s3.create_bucket(Bucket=args[0])
    out = True
elif command == "put":
    bucket, key, text, meta = args
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), Metadata={"sha256": meta})
    out = True
elif command == "keys":
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=args[0])
    out = [o["Key"] for p in pages for o in p.get("Contents", [])]
elif command == "object":
    try:
        obj = s3.get_object(Bucket=args[0], Key=args[1])
    except s3.exceptions.NoSuchKey:
        out = None
    else:
        h = hashlib.sha256()
        size = 0
        for chunk in obj["Body"].iter_chunks(1 << 20):
            h.update(chunk)
            size += len(chunk)
        out = {"size": size, "sha256": h.hexdigest(), "metadata": obj.get("Metadata", {}),
               "storageClass": obj.get("StorageClass"), "etag": obj.get("ETag", "").strip('"'),
               "sse": obj.get("ServerSideEncryption"), "kmsKeyId": obj.get("SSEKMSKeyId")}
elif command == "tagging":
    out = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=args[0], Key=args[1])["TagSet"]}
elif command == "open-uploads":
    out = len(s3.list_multipart_uploads(Bucket=args[0]).get("Uploads", []))
else:
    raise SystemExit(f"unknown command {command}")
print(json.dumps(out))
