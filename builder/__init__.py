"""The builder room: recipe → rendered build context → image, through a backend; base images; records."""
