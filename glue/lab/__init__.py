"""What only the local lab needs: image builds (images), the Ceph RGW container (rgw) and the
lab's S3 store made from it (store), and the Vagrant-backed Ansible inventory (inventory).
Real fleets never import this package; it uses s3/ and the shared modules."""
