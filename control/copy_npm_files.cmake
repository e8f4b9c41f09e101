# Copies the files Swagger UI needs from swagger-ui-dist, when it is installed;
# without it control still runs and says /docs is missing.
foreach(name index.html swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js
             index.css favicon-16x16.png favicon-32x32.png)
  if(EXISTS ${SRC}/${name})
    file(COPY ${SRC}/${name} DESTINATION ${DST})
  endif()
endforeach()
