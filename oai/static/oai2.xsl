<?xml version="1.0" encoding="UTF-8"?>
<!--
  OAI-PMH responses of this repository as a page a person can read in a browser.

  Every response names this stylesheet in an xml-stylesheet processing instruction;
  harvesters ignore it. What a record holds came from outside and is shown only as
  text (xsl:value-of, or the escaped XML of the "verbatim" templates), never copied
  as elements and never written with disable-output-escaping: the transformed page
  is as script-free as the response's Content-Security-Policy demands it to be
  (oai/views.py). Links are relative queries ("?verb=..."), so they reach this
  endpoint wherever it is mounted.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:oai="http://www.openarchives.org/OAI/2.0/"
    xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:id="http://www.openarchives.org/OAI/2.0/oai-identifier"
    xmlns:friends="http://www.openarchives.org/OAI/2.0/friends/"
    exclude-result-prefixes="oai oai_dc dc id friends">

  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>
  <xsl:strip-space elements="*"/>

  <!-- The stylesheet beside this one: the processing instruction's href with .css for
       .xsl, so that it is found wherever the application is mounted. -->
  <xsl:variable name="pi" select="/processing-instruction('xml-stylesheet')"/>
  <xsl:variable name="css"
      select="concat(substring-before(substring-after($pi, 'href=&quot;'), '.xsl&quot;'), '.css')"/>
  <xsl:variable name="request" select="/oai:OAI-PMH/oai:request"/>
  <xsl:variable name="verb" select="$request/@verb"/>
  <!-- The format of GetRecord links from a list: the list's own, which a resumed
       request no longer names. -->
  <xsl:variable name="prefix">
    <xsl:choose>
      <xsl:when test="$request/@metadataPrefix">
        <xsl:value-of select="$request/@metadataPrefix"/>
      </xsl:when>
      <xsl:otherwise>oai_dc</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>
          <xsl:choose>
            <xsl:when test="oai:OAI-PMH/oai:error">Error</xsl:when>
            <xsl:otherwise><xsl:value-of select="$verb"/></xsl:otherwise>
          </xsl:choose>
          <xsl:text> · OAI-PMH</xsl:text>
        </title>
        <link rel="stylesheet" href="{$css}"/>
      </head>
      <body>
        <header class="top">
          <p class="brand">OAI-PMH 2.0 · <span dir="ltr"><xsl:value-of select="$request"/></span></p>
          <nav aria-label="Requests">
            <ul>
              <li><a href="?verb=Identify">Identify</a></li>
              <li><a href="?verb=ListSets">Sets</a></li>
              <li><a href="?verb=ListMetadataFormats">Formats</a></li>
              <li><a href="?verb=ListIdentifiers&amp;metadataPrefix=oai_dc">Identifiers</a></li>
              <li><a href="?verb=ListRecords&amp;metadataPrefix=oai_dc">Records</a></li>
            </ul>
          </nav>
        </header>
        <main>
          <xsl:apply-templates select="oai:OAI-PMH"/>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="oai:OAI-PMH">
    <h1>
      <xsl:choose>
        <xsl:when test="oai:error">Error</xsl:when>
        <xsl:otherwise><xsl:value-of select="$verb"/></xsl:otherwise>
      </xsl:choose>
    </h1>
    <dl class="facts">
      <dt>Response date</dt>
      <dd><xsl:value-of select="oai:responseDate"/></dd>
      <xsl:for-each select="$request/@*">
        <dt><xsl:value-of select="name()"/></dt>
        <dd dir="auto"><xsl:value-of select="."/></dd>
      </xsl:for-each>
    </dl>
    <xsl:apply-templates select="oai:error | oai:Identify | oai:ListMetadataFormats | oai:ListSets
                                 | oai:ListIdentifiers | oai:ListRecords | oai:GetRecord"/>
  </xsl:template>

  <!-- Errors -->

  <xsl:template match="oai:error">
    <div class="flash error">
      <p><strong><xsl:value-of select="@code"/></strong>: <xsl:value-of select="."/></p>
    </div>
  </xsl:template>

  <!-- Identify -->

  <xsl:template match="oai:Identify">
    <table>
      <caption>The repository</caption>
      <tbody>
        <xsl:for-each select="*[not(self::oai:description)]">
          <tr>
            <th scope="row"><xsl:value-of select="local-name()"/></th>
            <td dir="auto"><xsl:value-of select="."/></td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
    <xsl:apply-templates select="oai:description"/>
  </xsl:template>

  <xsl:template match="oai:description[id:oai-identifier]">
    <xsl:variable name="sample" select="id:oai-identifier/id:sampleIdentifier"/>
    <h2>Identifiers</h2>
    <p>
      <xsl:text>Items are named </xsl:text>
      <code><xsl:value-of select="id:oai-identifier/id:scheme"/>:<xsl:value-of
          select="id:oai-identifier/id:repositoryIdentifier"/>:…</code>
      <xsl:text>, for example </xsl:text>
      <a>
        <xsl:attribute name="href">
          <xsl:call-template name="get-record-query">
            <xsl:with-param name="identifier" select="$sample"/>
            <xsl:with-param name="format" select="'oai_dc'"/>
          </xsl:call-template>
        </xsl:attribute>
        <xsl:value-of select="$sample"/>
      </a>
      <xsl:text>.</xsl:text>
    </p>
  </xsl:template>

  <xsl:template match="oai:description[friends:friends]">
    <h2>Repositories harvested here</h2>
    <ul>
      <xsl:for-each select="friends:friends/friends:baseURL">
        <li dir="ltr">
          <xsl:choose>
            <xsl:when test="starts-with(., 'https://') or starts-with(., 'http://')">
              <a href="{.}?verb=Identify"><xsl:value-of select="."/></a>
            </xsl:when>
            <xsl:otherwise><xsl:value-of select="."/></xsl:otherwise>
          </xsl:choose>
        </li>
      </xsl:for-each>
    </ul>
  </xsl:template>

  <xsl:template match="oai:description">
    <h2>Description</h2>
    <xsl:call-template name="verbatim-block"/>
  </xsl:template>

  <!-- ListMetadataFormats -->

  <xsl:template match="oai:ListMetadataFormats">
    <table>
      <caption>Metadata formats</caption>
      <thead><tr><th scope="col">Prefix</th><th scope="col">Schema</th><th scope="col">Namespace</th></tr></thead>
      <tbody>
        <xsl:for-each select="oai:metadataFormat">
          <tr>
            <td>
              <a href="?verb=ListRecords&amp;metadataPrefix={oai:metadataPrefix}">
                <xsl:value-of select="oai:metadataPrefix"/>
              </a>
            </td>
            <td dir="ltr"><xsl:value-of select="oai:schema"/></td>
            <td dir="ltr"><xsl:value-of select="oai:metadataNamespace"/></td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
  </xsl:template>

  <!-- ListSets -->

  <xsl:template match="oai:ListSets">
    <table>
      <caption>Sets</caption>
      <thead><tr><th scope="col">Set</th><th scope="col">Name</th><th scope="col">Description</th></tr></thead>
      <tbody>
        <xsl:for-each select="oai:set">
          <tr>
            <td>
              <a>
                <xsl:attribute name="href">
                  <xsl:text>?verb=ListRecords&amp;metadataPrefix=oai_dc&amp;set=</xsl:text>
                  <xsl:call-template name="encode">
                    <xsl:with-param name="text" select="oai:setSpec"/>
                  </xsl:call-template>
                </xsl:attribute>
                <xsl:value-of select="oai:setSpec"/>
              </a>
            </td>
            <td dir="auto"><xsl:value-of select="oai:setName"/></td>
            <td dir="auto"><xsl:value-of select="oai:setDescription"/></td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <!-- ListIdentifiers -->

  <xsl:template match="oai:ListIdentifiers">
    <table>
      <caption>Items</caption>
      <thead><tr><th scope="col">Identifier</th><th scope="col">Datestamp</th><th scope="col">Sets</th></tr></thead>
      <tbody>
        <xsl:for-each select="oai:header">
          <tr>
            <td dir="ltr">
              <xsl:call-template name="identifier-link"/>
              <xsl:if test="@status = 'deleted'"> (deleted)</xsl:if>
            </td>
            <td><xsl:value-of select="oai:datestamp"/></td>
            <td dir="ltr"><xsl:call-template name="set-list"/></td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <!-- ListRecords and GetRecord -->

  <xsl:template match="oai:ListRecords | oai:GetRecord">
    <xsl:apply-templates select="oai:record"/>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <xsl:template match="oai:record">
    <section class="card record">
      <h2 dir="ltr">
        <xsl:for-each select="oai:header">
          <xsl:call-template name="identifier-link"/>
        </xsl:for-each>
      </h2>
      <p class="muted">
        <xsl:text>Datestamp </xsl:text>
        <xsl:value-of select="oai:header/oai:datestamp"/>
        <xsl:if test="oai:header/oai:setSpec">
          <xsl:text> · sets </xsl:text>
          <xsl:for-each select="oai:header"><xsl:call-template name="set-list"/></xsl:for-each>
        </xsl:if>
      </p>
      <xsl:choose>
        <xsl:when test="oai:header/@status = 'deleted'">
          <p>This record has been deleted.</p>
        </xsl:when>
        <xsl:otherwise>
          <xsl:apply-templates select="oai:metadata"/>
          <xsl:for-each select="oai:about">
            <details>
              <summary>About this record (provenance)</summary>
              <xsl:call-template name="verbatim-block"/>
            </details>
          </xsl:for-each>
        </xsl:otherwise>
      </xsl:choose>
    </section>
  </xsl:template>

  <xsl:template match="oai:metadata[oai_dc:dc]">
    <table class="fields">
      <caption>Dublin Core</caption>
      <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
      <tbody>
        <xsl:for-each select="oai_dc:dc/*">
          <tr>
            <th scope="row">
              <xsl:choose>
                <xsl:when test="self::dc:*"><xsl:value-of select="local-name()"/></xsl:when>
                <xsl:otherwise><xsl:value-of select="name()"/></xsl:otherwise>
              </xsl:choose>
            </th>
            <td dir="auto">
              <xsl:if test="@xml:lang">
                <xsl:attribute name="lang"><xsl:value-of select="@xml:lang"/></xsl:attribute>
              </xsl:if>
              <xsl:value-of select="."/>
            </td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
  </xsl:template>

  <xsl:template match="oai:metadata">
    <xsl:call-template name="verbatim-block"/>
  </xsl:template>

  <!-- Paging -->

  <xsl:template match="oai:resumptionToken">
    <xsl:variable name="shown" select="count(../oai:record | ../oai:header | ../oai:set)"/>
    <nav class="pager" aria-label="Pages">
      <p>
        <xsl:text>Items </xsl:text>
        <xsl:value-of select="@cursor + 1"/>
        <xsl:text>–</xsl:text>
        <xsl:value-of select="@cursor + $shown"/>
        <xsl:if test="@completeListSize">
          <xsl:text> of </xsl:text>
          <xsl:value-of select="@completeListSize"/>
        </xsl:if>
        <xsl:text>.</xsl:text>
      </p>
      <xsl:choose>
        <xsl:when test="string(.)">
          <a class="button primary" rel="next">
            <xsl:attribute name="href">
              <xsl:text>?verb=</xsl:text>
              <xsl:value-of select="$verb"/>
              <xsl:text>&amp;resumptionToken=</xsl:text>
              <xsl:call-template name="encode">
                <xsl:with-param name="text" select="."/>
              </xsl:call-template>
            </xsl:attribute>
            <xsl:text>Next page</xsl:text>
          </a>
          <xsl:if test="@expirationDate">
            <span class="muted"> (until <xsl:value-of select="@expirationDate"/>)</span>
          </xsl:if>
        </xsl:when>
        <xsl:otherwise><span>This is the last page.</span></xsl:otherwise>
      </xsl:choose>
    </nav>
  </xsl:template>

  <!-- Links and queries -->

  <xsl:template name="identifier-link">
    <a>
      <xsl:attribute name="href">
        <xsl:call-template name="get-record-query">
          <xsl:with-param name="identifier" select="oai:identifier"/>
          <xsl:with-param name="format" select="$prefix"/>
        </xsl:call-template>
      </xsl:attribute>
      <xsl:value-of select="oai:identifier"/>
    </a>
  </xsl:template>

  <xsl:template name="get-record-query">
    <xsl:param name="identifier"/>
    <xsl:param name="format"/>
    <xsl:text>?verb=GetRecord&amp;metadataPrefix=</xsl:text>
    <xsl:call-template name="encode">
      <xsl:with-param name="text" select="$format"/>
    </xsl:call-template>
    <xsl:text>&amp;identifier=</xsl:text>
    <xsl:call-template name="encode">
      <xsl:with-param name="text" select="$identifier"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="set-list">
    <xsl:for-each select="oai:setSpec">
      <xsl:if test="position() > 1">, </xsl:if>
      <xsl:value-of select="."/>
    </xsl:for-each>
  </xsl:template>

  <!-- A query value: what would end it or change its meaning is percent-encoded (the
       browser encodes the rest); "%" first, so that no escape is escaped again. -->
  <xsl:template name="encode">
    <xsl:param name="text"/>
    <xsl:call-template name="replace">
      <xsl:with-param name="text">
        <xsl:call-template name="replace">
          <xsl:with-param name="text">
            <xsl:call-template name="replace">
              <xsl:with-param name="text">
                <xsl:call-template name="replace">
                  <xsl:with-param name="text" select="$text"/>
                  <xsl:with-param name="from" select="'%'"/>
                  <xsl:with-param name="to" select="'%25'"/>
                </xsl:call-template>
              </xsl:with-param>
              <xsl:with-param name="from" select="'&amp;'"/>
              <xsl:with-param name="to" select="'%26'"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="from" select="'+'"/>
          <xsl:with-param name="to" select="'%2B'"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="from" select="'#'"/>
      <xsl:with-param name="to" select="'%23'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="concat(substring-before($text, $from), $to)"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- XML shown as text: the children of the current element, indented. -->

  <xsl:template name="verbatim-block">
    <pre class="xml" dir="ltr"><xsl:apply-templates select="*" mode="verbatim">
      <xsl:with-param name="outermost" select="true()"/>
    </xsl:apply-templates></pre>
  </xsl:template>

  <xsl:template match="*" mode="verbatim">
    <xsl:param name="indent" select="''"/>
    <xsl:param name="outermost" select="false()"/>
    <xsl:value-of select="concat('&lt;', name())"/>
    <!-- Namespaces are declared once, on the outermost element shown (less the
         envelope's own, which is in scope everywhere). -->
    <xsl:if test="$outermost">
      <xsl:for-each select="namespace::*[name() != 'xml' and . != 'http://www.openarchives.org/OAI/2.0/']">
        <xsl:text> xmlns</xsl:text>
        <xsl:if test="name()"><xsl:value-of select="concat(':', name())"/></xsl:if>
        <xsl:value-of select="concat('=&quot;', ., '&quot;')"/>
      </xsl:for-each>
    </xsl:if>
    <xsl:for-each select="@*">
      <xsl:value-of select="concat(' ', name(), '=&quot;', ., '&quot;')"/>
    </xsl:for-each>
    <xsl:choose>
      <xsl:when test="not(node())">/&gt;</xsl:when>
      <xsl:when test="text()">
        <xsl:text>&gt;</xsl:text>
        <xsl:apply-templates select="node()" mode="verbatim"/>
        <xsl:value-of select="concat('&lt;/', name(), '&gt;')"/>
      </xsl:when>
      <xsl:otherwise>
        <xsl:text>&gt;</xsl:text>
        <xsl:for-each select="*">
          <xsl:value-of select="concat('&#10;', $indent, '  ')"/>
          <xsl:apply-templates select="." mode="verbatim">
            <xsl:with-param name="indent" select="concat($indent, '  ')"/>
          </xsl:apply-templates>
        </xsl:for-each>
        <xsl:value-of select="concat('&#10;', $indent, '&lt;/', name(), '&gt;')"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="text()" mode="verbatim">
    <xsl:value-of select="."/>
  </xsl:template>

  <xsl:template match="comment() | processing-instruction()" mode="verbatim"/>

</xsl:stylesheet>
